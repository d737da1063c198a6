"""Sequence models: RNN with hand-written BPTT, LSTM, GRU, seq2seq with attention, HRED/VHRED, word2vec, Transformer."""
from nets.sequence import transformer  # noqa: F401
from nets.sequence import attention, bidirectional, gru, hred, lstm, recurrent, rnn_numpy, seq2seq, word2vec  # noqa: F401
