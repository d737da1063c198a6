"""Sequence models: RNN with hand-written BPTT, LSTM, GRU, seq2seq with attention, HRED/VHRED, word2vec, Transformer."""
from nets.sequence import transformer  # noqa: F401
