#!/usr/bin/python3
"""Writes the tiny BPE vocabulary used with the random-weight layout fixtures in tests/fixtures/models.

The fixture towers have a 1000-token embedding table; a CLIP vocabulary is 512 byte symbols + merges + 2 special
tokens, so up to 486 merges fit. This learns up to 200 merges (fewer when no pair repeats) from a small caption corpus with the same algorithm CLIP's
vocabulary was built with (most frequent adjacent pair first, '</w>' on the last symbol of each word) and writes
them in the CLIP merges format (`bpe_simple_vocab.txt`: a `#version` header, then one `a b` merge per line) into
each layout's tokenizer folder. Deterministic: ties break on the pair's text. Run: /usr/bin/python3 tools/make_fixture_vocab.py
"""
import collections
import os

CORPUS = """a photo of a cat. a photo of a dog. a red circle. a blue square. a green triangle. a yellow star.
an orange hexagon. a purple heart. a picture of a small cat. not a cat. a big dog on a white background.
a drawing of a bird. a photo of a car. a plane in the sky. a boat on the water. a tree in a field."""
MERGES = 200
HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["split", "combined", "immich/textual"]


def learn_merges(words, count):
    vocab = collections.Counter()
    for word in words:
        vocab[tuple(word[:-1]) + (word[-1] + "</w>",)] += 1
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for symbols, freq in vocab.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += freq
        if not pairs:
            break
        best = min(pairs.items(), key=lambda item: (-item[1], item[0]))[0]
        merges.append(best)
        merged = collections.Counter()
        for symbols, freq in vocab.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] += freq
        vocab = merged
    return merges


def main():
    words = [w for w in CORPUS.lower().replace(".", " .").split()]
    merges = learn_merges(words, MERGES)
    text = "#version: 0.2 (tiny fixture vocabulary, tools/make_fixture_vocab.py)\n" + "".join(f"{a} {b}\n" for a, b in merges)
    for target in TARGETS:
        path = os.path.join(HERE, "..", "tests", "fixtures", "models", target, "bpe_simple_vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(path, len(merges), "merges; vocabulary", 512 + len(merges) + 2)


if __name__ == "__main__":
    main()
