"""The tasks (src/reprozoo/tasks/): every kind in params.yaml has one, and each task's pieces at small size:
names sources on small generated files, the hook's shapes, the LBFGS closure, the k-NN score, each model's contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reprozoo.data.names import encode_names, fetch_names, pick_surnames, read_pairs_csv, write_pairs_csv
from reprozoo.config.errors import ReprozooError
from reprozoo.tasks import TASKS, experiment, task_for
from reprozoo.tasks.char_rnn import SOURCE, build_char_model, encode, fit_char
from reprozoo.tasks.image_classifier import build
from reprozoo.tasks.linear_regression import LINEAR_X, LINEAR_Y, fit_handwritten, fit_linear
from reprozoo.tasks.logistic_regression import fit_logistic, half_probability_x
from reprozoo.tasks.names_gru import WIDTH, NamesGRU, predict_names, score_names, topk_accuracy
from reprozoo.tasks.probe import SaveFeatures, capture_rnn_outputs, knn_accuracy
from reprozoo.tasks.svd import svd_compress
from reprozoo.tasks.tabular_mlp import DeepMLP, evaluate_binary, split_tabular

COUNTRIES = ["English", "German", "Japanese"]
NAMES = {"English": ["Smith", "Jones", "Brown", "Taylor", "Wilson"],
         "German": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber"],
         "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe"]}


# ---- the registry ----

def test_every_experiment_kind_in_params_has_a_registered_task(params):
    kinds = {kind for kind, _ in params.all().values()}
    assert kinds >= {"image_classifier", "linear_regression", "names_gru", "probe"}  # params.yaml read whole
    for kind in kinds:
        task = task_for(kind)
        assert task.kind == kind and TASKS[kind] is type(task)


def test_an_unknown_kind_is_a_one_line_error():
    with pytest.raises(ReprozooError, match=r"^kind 'gan' has no task module reprozoo/tasks/gan.py$"):
        task_for("gan")


# ---- names sources, on files written in each source's format ----

def test_csv_source_reads_the_seeds_format(tmp_path):
    pairs = [(n, c) for c in COUNTRIES for n in NAMES[c]]
    write_pairs_csv(tmp_path / "names_train.csv", pairs[::2])
    write_pairs_csv(tmp_path / "names_test.csv", pairs[1::2])
    data = fetch_names("csv", str(tmp_path), top_n=1, test_fraction=0.2, seed=0)
    assert data.classes == COUNTRIES and data.source == "csv"
    assert ("Muller", "German") in data.train + data.test  # accents folded to ASCII
    assert len(data.train) == 8 and len(data.test) == 7
    assert set(data.files) == {"names_train.csv", "names_test.csv"}


@pytest.mark.parametrize("line, expected", [("Smith", "expected `name,country`"),
                                            ("Ивanov,Russian", "non-ASCII letters")])
def test_csv_source_bad_rows_are_one_line_errors(tmp_path, line, expected):
    (tmp_path / "names_train.csv").write_text(f"Smith,English\n{line}\n", encoding="utf-8")
    with pytest.raises(ReprozooError, match=expected) as err:
        read_pairs_csv(tmp_path / "names_train.csv")
    assert "names_train.csv:2" in str(err.value) and "\n" not in str(err.value)


def test_csv_source_needs_both_files(tmp_path):
    write_pairs_csv(tmp_path / "names_train.csv", [("Smith", "English")])
    with pytest.raises(ReprozooError, match="names_test.csv: missing"):
        fetch_names("csv", str(tmp_path), 1, 0.2, 0)


def test_tutorial_source_reads_language_files_and_splits_stratified(tmp_path):
    for country in COUNTRIES:
        (tmp_path / f"{country}.txt").write_text("\n".join(NAMES[country] + [NAMES[country][0]]) + "\n",
                                                 encoding="utf-8")
    data = fetch_names("tutorial", str(tmp_path), top_n=1, test_fraction=0.4, seed=0)
    assert data.classes == COUNTRIES
    assert len(data.train) + len(data.test) == 15  # the repeated name counted once
    assert sorted(c for _, c in data.test) == sorted(COUNTRIES * 2)  # 40 % of 5 per class
    again = fetch_names("tutorial", str(tmp_path), top_n=1, test_fraction=0.4, seed=0)
    assert again.test == data.test  # seeded


def test_tutorial_source_without_files_is_an_error(tmp_path):
    with pytest.raises(ReprozooError, match="no <Language>.txt files"):
        fetch_names("tutorial", str(tmp_path), 1, 0.2, 0)


def test_embedded_picks_top_n_ascii_and_labels_by_best_rank():
    # The shape of names-dataset's last_names table: name -> {'rank': {country code: rank}, ...}.
    table = {
        "Smith": {"rank": {"GB": 1, "IE": 5}}, "Murphy": {"rank": {"IE": 1, "GB": 40}},
        "Jones": {"rank": {"GB": 2}}, "Kelly": {"rank": {"IE": 2, "GB": 2}},  # tie: English listed first
        "Sato": {"rank": {"JP": 1}}, "佐藤": {"rank": {"JP": 2}},  # not ASCII: skipped
        "Rare": {"rank": {"GB": 900}}, "Nobody": {"rank": {"US": 1}},  # below top-n; not a seed country
    }
    pairs = pick_surnames(table, top_n=3)
    assert pairs == [("Jones", "English"), ("Kelly", "English"), ("Murphy", "Irish"), ("Sato", "Japanese"),
                     ("Smith", "English")]


# ---- probes: the forward hook on the s000 RNN, the t-SNE picture's k-NN score ----

def test_hook_captures_sequence_first_outputs(params):
    p = experiment(params, "s000-rnn-mnist")[1]
    model = build(p, {"image_shape": [1, 28, 28], "classes": list("0123456789")})
    images = torch.rand(5, 1, 28, 28)
    acts = capture_rnn_outputs(model, model.net.rnn, images)
    assert acts.shape == (28, 5, 150)  # the seed's (steps, batch, hidden)
    rows = images.permute(0, 2, 1, 3).reshape(5, 28, 28)
    with torch.no_grad():
        direct, _ = model.net.rnn(rows)  # (batch, steps, hidden)
    assert torch.equal(acts[:, 2], direct[2])  # [t, b] is step t of image b
    assert not model.net.rnn._forward_hooks  # the hook is removed


def test_save_features_keeps_the_output_tensor():
    rnn = torch.nn.RNN(3, 4)
    saver = SaveFeatures(rnn)
    out, _ = rnn(torch.rand(6, 2, 3))
    saver.close()
    assert torch.equal(saver.features, out) and saver.features.shape == (6, 2, 4)


def test_knn_accuracy_is_one_on_separated_clusters_and_chance_on_random_labels():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(400) % 2
    clusters = torch.randn(400, 2, generator=gen) + labels.unsqueeze(1) * 20.0
    assert knn_accuracy(clusters, labels) == 1.0
    cloud = torch.randn(1000, 2, generator=gen)
    shuffled = torch.randint(0, 2, (1000,), generator=gen)
    # Leave-one-out: with its own label among the 5 votes, a point would score ~0.69 here, not ~0.5.
    assert knn_accuracy(cloud, shuffled) == pytest.approx(0.5, abs=0.08)


# ---- regression: the LBFGS closure and the other optimizers ----

def test_lbfgs_steps_with_its_closure_and_fits_y_equals_2x():
    model, losses = fit_linear("lbfgs", 0.01, 100, seed=0)
    assert losses[-1] < 1e-6 < losses[0]
    assert model(torch.tensor([[4.0]])).item() == pytest.approx(8.0, abs=1e-2)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "lbfgs", "rprop"])
def test_each_recorded_loss_is_the_loss_before_its_step(optimizer):
    """fit_linear records what opt.step(closure) returns: the closure's first loss, before the step, for
    LBFGS (which calls the closure many times a step) as for the others; the first is the seeded start's."""
    torch.manual_seed(3)
    start = torch.nn.Linear(1, 1)
    before = torch.nn.functional.mse_loss(start(LINEAR_X), LINEAR_Y).item()
    model, losses = fit_linear(optimizer, 0.01, 2, seed=3)
    assert losses[0] == pytest.approx(before, rel=1e-6)
    assert losses[1] < losses[0]  # a step was taken between them


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adam", "adamax", "asgd", "rmsprop", "rprop"])
def test_every_optimizer_lowers_the_loss(optimizer):
    _, losses = fit_linear(optimizer, 0.01, 50, seed=0)
    assert len(losses) == 50 and losses[-1] < losses[0]


def test_fits_are_deterministic():
    assert fit_linear("adam", 0.01, 20, 0)[1] == fit_linear("adam", 0.01, 20, 0)[1]


def test_handwritten_descent_lowers_the_loss():
    w, losses = fit_handwritten(0.001, 200, seed=0)
    assert w.shape == (3,) and losses[-1] < losses[0]


def test_logistic_crossing_is_where_the_logit_is_zero():
    model, losses = fit_logistic(0.5, 200, seed=0)
    x = half_probability_x(model)
    assert torch.sigmoid(model(torch.tensor([[x]]))).item() == pytest.approx(0.5, abs=1e-5)
    assert losses[-1] < losses[0]


# ---- breast cancer, char RNN, names GRU, SVD ----

def test_tabular_split_is_stratified_and_standardised():
    x = torch.randn(100, 4) * 50 + 10
    y = torch.tensor([0] * 40 + [1] * 60)
    parts = split_tabular(x, y, 0.2, 0.2, seed=0, standardise=True)
    assert [len(parts[k][1]) for k in ("train", "val", "test")] == [60, 20, 20]
    assert parts["test"][1].sum().item() == 12  # 60 % of the test part is class 1, as in the whole
    assert parts["train"][0].mean(0).abs().max() < 1e-4


def test_deep_mlp_outputs_probabilities_and_metrics():
    model = DeepMLP(30, [25, 20, 15, 10, 5], ["relu", "relu", "relu", "sigmoid", "sigmoid"])
    p = model(torch.randn(8, 30))
    assert p.shape == (8,) and ((p > 0) & (p < 1)).all()
    m = evaluate_binary(model, torch.randn(8, 30), torch.tensor([0, 1] * 4))
    assert 0 <= m["accuracy"] <= 1 and set(m) >= {"precision", "recall", "loss"}


@pytest.mark.parametrize("kind, hidden, layers", [("cell", 4, 1), ("rnn", 4, 1), ("embedding", 8, 2)])
def test_char_models_score_five_letters(kind, hidden, layers):
    torch.manual_seed(0)
    model = build_char_model(kind, hidden, layers, 10)
    assert model(encode(SOURCE)).shape == (5, 4)
    history = fit_char(model, "adam", 0.05, 5)
    assert len(history) == 5 and len(history[-1]["decoded"]) == 5


@pytest.mark.parametrize("bidirectional", [False, True])
def test_names_gru_padding_does_not_change_a_names_scores(bidirectional):
    torch.manual_seed(0)
    model = NamesGRU(3, hidden_size=16, num_layers=2, bidirectional=bidirectional)
    codes, lengths = encode_names(["Li", "Takahashi", "Weber"])
    assert codes.shape == (3, 9) and lengths.tolist() == [2, 9, 5]
    together = score_names(model, codes)
    alone = score_names(model, encode_names(["Li"])[0])
    assert together.shape == (3, 3)
    assert torch.allclose(together[0], alone[0], atol=1e-6)  # the 7 padding steps are ignored


def test_names_gru_padded_eval_path_scores_as_the_packed_path():
    """Eval mode (unidirectional) runs the padded, exportable GRU; training mode packs. No dropout: same scores."""
    torch.manual_seed(0)
    model = NamesGRU(4, hidden_size=16, num_layers=2)
    codes = F.pad(encode_names(["Li", "Takahashi", "Weber", "O'Neil"])[0], (0, WIDTH - 9))
    with torch.no_grad():
        padded = model.eval()(codes)
        packed = model.train()(codes)
    assert padded.shape == (4, 4)
    assert not torch.equal(padded[0], padded[1])  # the names' own scores, not one state for all
    torch.testing.assert_close(padded, packed, atol=1e-5, rtol=0)


def test_names_predict_and_top_k():
    torch.manual_seed(0)
    model = NamesGRU(3, hidden_size=8, num_layers=1)
    top = predict_names(model, COUNTRIES, ["Müller"], k=2)[0]
    assert len(top) == 2 and {c for c, _ in top} <= set(COUNTRIES)
    with pytest.raises(ReprozooError, match=f"reads at most {WIDTH}"):
        predict_names(model, COUNTRIES, ["A" * (WIDTH + 1)])
    assert topk_accuracy(torch.tensor([[0.1, 0.5, 0.4]]), torch.tensor([2]), 1) == 0.0
    assert topk_accuracy(torch.tensor([[0.1, 0.5, 0.4]]), torch.tensor([2]), 2) == 1.0


def test_svd_full_rank_is_lossless_and_ratio_counts_numbers():
    image = torch.randint(0, 256, (6, 4, 3), generator=torch.Generator().manual_seed(0)).numpy().astype("uint8")
    out = svd_compress(image, [1, 6])
    assert out[6]["relative_frobenius_error"] < 1e-10 and (out[6]["image"] == image).all()
    assert out[1]["compression_ratio"] == pytest.approx(6 * 12 / (1 * (6 + 12 + 1)))
    assert out[1]["psnr_db"] < out[6]["psnr_db"]
