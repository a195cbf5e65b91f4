"""The seeds' experiments (../shared/seeds/CATALOGUE.md): id -> what the seed reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    seed: str
    title: str
    reported: float | None  # the seed's figure as a number, None where it gives none
    reported_text: str  # the seed's figure as the seed words it


CATALOGUE: dict[str, Entry] = {
    "s000-rnn-mnist": Entry("000", "ImageRNN, 3-layer tanh RNN, identity recurrent init", 0.9746,
                            "97.46 % MNIST test (full 60k train)"),
    "s000-rnn-activations": Entry("000", "forward hook on the RNN", None, "shapes only"),
    "s001-lstm-mnist": Entry("001", "LSTM(28, 128) classifier", 0.96,
                             "~0.96 on the first 2000 test images"),
    "s002-linear-regression": Entry("002", "Linear(1, 1) on y = 2x, eight optimizers", 8.0,
                                    "prediction for x = 4 close to 8"),
    "s002-logistic-regression": Entry("002", "logistic regression on three points", None,
                                      "curve crosses 0.5 between 2 and 3"),
    "s002-breast-cancer-mlp": Entry("002", "30-25-20-15-10-5-1 MLP", None, "test accuracy (number not given)"),
    "s002-mnist-fc": Entry("002", "784-512-256-128-64-10 MLP", 0.97, "~97 % test"),
    "s002-mnist-cnn": Entry("002", "two small CNNs", None, "accuracy plots (no number)"),
    "s002-cnn-advanced": Entry("002", "Inception and residual nets", 0.99, "(course: ~99 %)"),
    "s002-char-rnn": Entry("002", "hello -> ohlol", 5.0, 'prints "ohlol"'),
    "s002-names-gru": Entry("002", "name -> country GRU", None, "test accuracy per epoch (no number given)"),
    "s003-cnn-mnist": Entry("003", "Morvan CNN", 0.98, "~0.98 on the first 2000 test images"),
    "s003-lstm-mnist": Entry("003", "Morvan LSTM(28, 64)", 0.96, "~0.96-0.97 on the first 2000 test images"),
    "s003-rnn-regression": Entry("003", "sin -> cos RNN", None, "plot of prediction against cos"),
    "s004-svd-compression": Entry("004", "SVD image compression", None, "visually near-lossless at k = 120"),
    "s004-fc-vs-cnn-permuted": Entry("004", "FC vs CNN on permuted pixels", None,
                                     "CNN beats FC on images; the advantage disappears on permuted pixels"),
    "s004-cifar10-lenet": Entry("004", "LeNet on CIFAR-10", None, "loss ~0.8 at epoch 10"),
    "s004-cifar10-vgg": Entry("004", "VGG-BN on CIFAR-10", 0.8448, "84.48 % CIFAR-10 test"),
    "s004-vgg16-transfer": Entry("004", "VGG16 transfer, cats vs dogs", 0.95,
                                 "validation accuracy (course: ~0.95+)"),
}
