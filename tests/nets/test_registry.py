"""nets.build knows every module and nets.available lists them: each name builds from a small config."""
import pytest
import torch

import nets

# the smallest configs the builders need; names whose builders have defaults for everything build with {}
CONFIGS = {
    "bahdanau_attention": dict(query_size=8, key_size=8, attention_size=8),
    "luong_attention": dict(query_size=8, key_size=8),
    "batch_norm": dict(num_features=4),
    "instance_norm": dict(num_features=4),
    "layer_norm": dict(normalized_shape=4),
    "group_norm": dict(num_groups=2, num_channels=4),
    "lstm": dict(input_size=3, hidden_size=5),
    "gru": dict(input_size=3, hidden_size=5),
    "bidirectional_rnn": dict(input_size=3, hidden_size=5),
    "dilated_context": dict(channels=4),
    "hred": dict(vocab=12),
    "vhred": dict(vocab=12),
    "seq2seq": dict(src_vocab=12, tgt_vocab=12),
    "transformer": dict(src_vocab=12, tgt_vocab=12),
    "word2vec_cbow": dict(vocab_size=20),
    "word2vec_skipgram": dict(vocab_size=20),
}

EXPECTED = {  # one name at least per concept of the syllabus and of the Go nets
    "lee_policy", "lee_value", "lee_rollout", "zero_resnet", "lstm", "gru", "bidirectional_rnn", "seq2seq",
    "hred", "vhred", "vae", "word2vec_skipgram", "word2vec_cbow", "transformer", "multihead_attention",
    "transformer_encoder_layer", "mobilenet_v1", "mobilenet_v2", "densenet", "batch_norm", "layer_norm",
    "instance_norm", "group_norm", "wavenet", "ssd", "fcn", "segnet", "dilated_context", "gan_generator",
    "gan_discriminator", "dcgan_generator", "dcgan_discriminator",
}


def test_every_concept_is_registered():
    assert EXPECTED <= set(nets.available())
    assert nets.available() == sorted(nets.available())


PARAMETER_FREE = {"instance_norm", "luong_attention",  # as torch's InstanceNorm2d and dot attention
                  "zero_resnet_int8"}  # an ONNX int8 model held in a buffer, run by ONNX Runtime


@pytest.mark.parametrize("name", nets.available())
def test_builds_a_module(name):
    module = nets.build(name, **CONFIGS.get(name, {}))
    assert isinstance(module, torch.nn.Module)
    assert (sum(p.numel() for p in module.parameters()) > 0) == (name not in PARAMETER_FREE)


def test_unknown_names_are_refused_with_the_list():
    with pytest.raises(ValueError, match="unknown network 'resnet9000'; available: .*zero_resnet"):
        nets.build("resnet9000")
