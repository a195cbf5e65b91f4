"""The seeds' experiments (../shared/seeds/CATALOGUE.md): id -> what the seed prints, and outside figures.

`printed` quotes only what a seed's own text prints. A figure from the course or tutorial page a
seed follows is `outside`, and is never shown as the seed's. `value` is the number our `metric`
is set beside: the seed's own where it prints one, else the outside figure (then marked so).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    seed: str
    title: str
    printed: str  # what the seed's text prints, in its words ("" where it prints nothing)
    metric: str | None = None  # the figure of ours that stands beside `value`
    value: float | None = None  # the number compared; None where neither seed nor outside gives one
    outside: str = ""  # a figure from the page the seed follows, not from the seed
    note: str = ""  # why a figure is what it is
    rounding: float = 0.0  # half a unit of the figure's last printed digit: "0.96" may be anything in 0.955-0.965

    @property
    def outside_value(self) -> bool:
        """Whether `value` comes from outside the seed (the page it follows), not from its own text."""
        return self.value is not None and bool(self.outside)


CATALOGUE: dict[str, Entry] = {
    "s000-rnn-mnist": Entry(
        "000", "ImageRNN, 3-layer tanh RNN, identity recurrent init",
        "97.46 % on the 10k test set (recounted: 97.30 %)", "test_accuracy", 0.9730,
        note="the seed divides the sum of 79 batch accuracies by 78 and scores its last 16-image batch over 128; "
             "recounted from its printed batch accuracies it is 9730/10000"),
    "s000-rnn-activations": Entry("000", "forward hook on the RNN", "activation shape torch.Size([28, 128, 150])"),
    "s001-lstm-mnist": Entry("001", "LSTM(28, 128) classifier", "0.96 on the first 2000 test images (two decimals)",
                             "test_accuracy", 0.96, rounding=0.005),
    "s002-linear-regression": Entry("002", "Linear(1, 1) on y = 2x, eight optimizers",
                                    "prediction for x = 4 close to 8", "prediction_sgd", 8.0),
    "s002-logistic-regression": Entry("002", "logistic regression on three points",
                                      "probability curve crossing 0.5 between x = 2 and 3 (a plot)"),
    "s002-breast-cancer-mlp": Entry("002", "30-25-20-15-10-5-1 MLP", "test accuracy (no number given)"),
    "s002-mnist-fc": Entry("002", "784-512-256-128-64-10 MLP", "", "test_accuracy", 0.97,
                           outside="the course shows about 97 % after 10 epochs", rounding=0.005),
    "s002-mnist-cnn": Entry("002", "two small CNNs", "accuracy plots (no number)"),
    "s002-cnn-advanced": Entry("002", "Inception and residual nets", "", "test_accuracy", 0.99,
                               outside="the course shows about 99 %", rounding=0.005),
    "s002-char-rnn": Entry("002", "hello -> ohlol", '"ohlol" (5 of 5 letters)', "chars_right", 5.0),
    "s002-names-gru": Entry("002", "name -> country GRU", "test accuracy per epoch (no number given)"),
    "s003-cnn-mnist": Entry("003", "Morvan CNN, t-SNE of its last layer", "", "test_accuracy", 0.98,
                            outside="Morvan's tutorial page shows about 0.98 on the first 2000 test images",
                            rounding=0.005),
    "s003-lstm-mnist": Entry("003", "Morvan LSTM(28, 64)", "", "test_accuracy", 0.965,
                             outside="Morvan's tutorial page shows about 0.96-0.97", rounding=0.005),
    "s003-rnn-regression": Entry("003", "sin -> cos RNN", "a plot of prediction against cos"),
    "s004-svd-compression": Entry("004", "SVD image compression", "visually near-lossless at k = 120 (pictures)"),
    "s004-fc-vs-cnn-permuted": Entry("004", "FC vs CNN on permuted pixels",
                                     "CNN beats FC on images; the advantage disappears on permuted pixels"),
    "s004-cifar10-lenet": Entry("004", "LeNet on CIFAR-10",
                                "minibatch training loss 0.72-0.98 in epoch 10; test accuracy only in an image"),
    "s004-cifar10-vgg": Entry("004", "VGG-BN on CIFAR-10", "84.48 % on the 10k CIFAR-10 test images",
                              "test_accuracy", 0.8448),
    "s004-vgg16-transfer": Entry("004", "VGG16 transfer, cats vs dogs", "validation loss and accuracy (values not "
                                 "shown)", "test_accuracy", 0.95, outside="the course shows about 0.95+",
                                 rounding=0.005),
}
