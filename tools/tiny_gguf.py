#!/usr/bin/env python3
"""tiny_gguf.py — write a tiny llama-architecture model with random weights as GGUF.

    tiny_gguf.py OUT.gguf [--seed N] [--layers N] [--embd N] [--ff N] [--quant q8_0|q4_0|f16|f32]

For checking that llama.cpp generates the same greedy tokens through rgpu as on
its own CPU backend, without downloading a model: a few layers, grouped-query
attention, SwiGLU feed-forward, a SentencePiece-style vocabulary of byte tokens
plus some words. The projection weights are stored quantized (default Q8_0) so
that ggml-cuda's quantized matrix kernels run; the output projection is F16.

The logits are made far apart on purpose (large output weights): greedy
decoding then does not hinge on rounding differences between two correct
backends. Needs numpy and the `gguf` package (PyPI).
"""
import argparse

import numpy as np

import gguf

WORDS = ["the", "a", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on", "are", "with", "as", "rgpu",
         "gpu", "remote", "cuda", "kernel", "stream", "event", "graph", "memory", "device", "host", "copy", "launch"]


def vocab():
    tokens, scores, types = [], [], []

    def add(text, score, kind):
        tokens.append(text)
        scores.append(score)
        types.append(kind)

    add("<unk>", 0.0, gguf.TokenType.UNKNOWN)
    add("<s>", 0.0, gguf.TokenType.CONTROL)
    add("</s>", 0.0, gguf.TokenType.CONTROL)
    for b in range(256):
        add("<0x%02X>" % b, 0.0, gguf.TokenType.BYTE)
    for i, w in enumerate(WORDS):
        add("\u2581" + w, -1.0 - i * 0.01, gguf.TokenType.NORMAL)
    for c in "abcdefghijklmnopqrstuvwxyz":
        if "\u2581" + c not in tokens:  # "a" is a word already: tokens are unique
            add("\u2581" + c, -5.0, gguf.TokenType.NORMAL)
        add(c, -6.0, gguf.TokenType.NORMAL)
    add("\u2581", -7.0, gguf.TokenType.NORMAL)
    return tokens, scores, types


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--ff", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--quant", default="q8_0", choices=["q8_0", "q4_0", "f16", "f32"])
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    tokens, scores, types = vocab()
    n_vocab, n_embd, n_ff = len(tokens), a.embd, a.ff
    head_dim = n_embd // a.heads
    n_embd_kv = head_dim * a.kv_heads

    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("rgpu tiny llama")
    w.add_context_length(512)
    w.add_embedding_length(n_embd)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(n_ff)
    w.add_rope_dimension_count(head_dim)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if a.quant == "q8_0" else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0,
             "f16": gguf.GGMLQuantizationType.F16, "f32": gguf.GGMLQuantizationType.F32}[a.quant]

    def tensor(name, shape, scale, kind=None):
        x = (rng.standard_normal(shape) * scale).astype(np.float32)
        kind = kind if kind is not None else qtype
        if kind == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, x)
        elif kind == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(x, kind), raw_dtype=kind)

    f32 = gguf.GGMLQuantizationType.F32
    tensor("token_embd.weight", (n_vocab, n_embd), 1.0, f32)
    for i in range(a.layers):
        w.add_tensor("blk.%d.attn_norm.weight" % i, np.ones(n_embd, dtype=np.float32))
        tensor("blk.%d.attn_q.weight" % i, (n_embd, n_embd), 0.2)
        tensor("blk.%d.attn_k.weight" % i, (n_embd_kv, n_embd), 0.2)
        tensor("blk.%d.attn_v.weight" % i, (n_embd_kv, n_embd), 0.2)
        tensor("blk.%d.attn_output.weight" % i, (n_embd, n_embd), 0.2)
        w.add_tensor("blk.%d.ffn_norm.weight" % i, np.ones(n_embd, dtype=np.float32))
        tensor("blk.%d.ffn_gate.weight" % i, (n_ff, n_embd), 0.2)
        tensor("blk.%d.ffn_up.weight" % i, (n_ff, n_embd), 0.2)
        tensor("blk.%d.ffn_down.weight" % i, (n_embd, n_ff), 0.2)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    tensor("output.weight", (n_vocab, n_embd), 2.0, gguf.GGMLQuantizationType.F16)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("%s: llama, %d layers, embd %d, ff %d, heads %d/%d, vocab %d, weights %s" %
          (a.out, a.layers, n_embd, n_ff, a.heads, a.kv_heads, n_vocab, a.quant))


if __name__ == "__main__":
    main()
