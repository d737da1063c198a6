// Sabaki's GTP library (@sabaki/gtp) driving two `goengine gtp` processes through a whole game, then
// reading an lz-analyze stream the way Sabaki does (stopped by the next command, and by an abort).
// Usage: node play.js '{"engine": ["python", "-m", "goengine.cli", "gtp", ...], "size": 9, "maxMoves": 300}'
// Prints one JSON object with what it saw; tests/gtp/test_sabaki.py judges it.
'use strict'
const {Controller} = require('@sabaki/gtp')

async function ask(controller, name, args = []) {
  const response = await controller.sendCommand({name, args})
  if (response.error) throw new Error(`${name} ${args.join(' ')} failed: ${response.content}`)
  return response.content
}

function analysis(controller, args, onInfo) {
  const lines = []
  const done = controller.sendCommand({name: 'lz-analyze', args}, ({line}) => {
    if (line.startsWith('info')) {
      lines.push(line)
      onInfo(lines.length)
    }
  })
  return {lines, done}
}

async function main() {
  const cfg = JSON.parse(process.argv[2])
  const [path, ...args] = cfg.engine
  const black = new Controller(path, [...args, '--seed', '1'])
  const white = new Controller(path, [...args, '--seed', '2'])
  const stderr = []
  for (const c of [black, white]) {
    c.on('stderr', ({content}) => stderr.push(content))
    c.start()
  }
  const out = {moves: [], stderr}
  for (const c of [black, white]) {
    await ask(c, 'boardsize', [String(cfg.size)])
    await ask(c, 'clear_board')
    await ask(c, 'komi', ['7.5'])
  }
  let colour = 'B'
  let passes = 0
  while (passes < 2 && out.moves.length < cfg.maxMoves) {
    const [me, other] = colour === 'B' ? [black, white] : [white, black]
    const move = await ask(me, 'genmove', [colour])
    out.moves.push([colour, move])
    if (move.toLowerCase() === 'resign') break
    await ask(other, 'play', [colour, move])
    passes = move.toLowerCase() === 'pass' ? passes + 1 : 0
    colour = colour === 'B' ? 'W' : 'B'
  }
  out.scores = [await ask(black, 'final_score'), await ask(white, 'final_score')]
  out.illegal = await black.sendCommand({name: 'play', args: ['B', 'Z99']})
  out.withId = await black.sendCommand({id: 17, name: 'name'})
  await ask(black, 'clear_board')

  // Stopped by the next command, as Sabaki does when the user moves on
  let firstInfo
  const seen = new Promise(resolve => (firstInfo = resolve))
  const first = analysis(black, ['B', '10'], n => n >= 1 && firstInfo())
  await seen
  const name = black.sendCommand({name: 'name'})
  out.analysis = {lines: first.lines, response: await first.done, next: await name}

  // Stopped by Sabaki's abort: an empty line
  let secondInfo
  const seen2 = new Promise(resolve => (secondInfo = resolve))
  const second = analysis(black, ['W', 'interval', '10'], n => n >= 1 && secondInfo())
  await seen2
  black.process.stdin.write('\n') // StreamController.sendAbort's empty line (Controller 3.0 has no sendAbort)
  out.aborted = {lines: second.lines, response: await second.done, next: await black.sendCommand({name: 'protocol_version'})}

  await black.stop()
  await white.stop()
  console.log(JSON.stringify(out))
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : String(err))
  process.exit(1)
})
