"""CSV files as they come: column types, missing values, unseen categories, sniffed
delimiters, every problem at once, statistics fitted on train alone, the fitted encoding in
the checkpoint, and the Palmer penguins file through the real CLI."""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import tiny

from mlcore.config import DataConfig
from mlcore.data import build_data
from mlcore.errors import MlcoreError

COLOURS = ("red", "green", "blue")


def table(n: int = 40, sep: str = ",", gaps: bool = False) -> str:
    """key (float, distinct), size (float), count (int), colour (text), grade (int codes),
    y (class 0/1): every type the reader tells apart."""
    rows = [sep.join(("key", "size", "count", "colour", "grade", "y"))]
    for i in range(n):
        size = "NA" if gaps and i % 10 == 3 else f"{(i * 7 % 13) / 2:.1f}"
        colour = "" if gaps and i % 10 == 5 else COLOURS[i % 3]
        rows.append(sep.join((f"{i + 0.5}", size, str(i % 4), colour, str(i % 3 + 1), str(i % 2))))
    return "\n".join(rows) + "\n"


def load(tmp_path, text: str, name: str = "t.csv", **fields):
    path = tmp_path / name
    path.write_text(text)
    cfg = DataConfig(name="csv", path=str(path), target="y", normalize=False, **fields)
    return build_data(cfg, seed=0)


def columns(bundle) -> dict[str, dict]:
    return {c["name"]: c for c in bundle.preprocessing["columns"]}


def notes(bundle) -> str:
    return "\n".join(bundle.info["preprocessing"]["notes"])


def test_each_column_type(tmp_path):
    bundle = load(tmp_path, table(), categorical=["grade"], drop=["count"])
    kinds = {name: c["kind"] for name, c in columns(bundle).items()}
    assert kinds == {"key": "numeric", "size": "numeric", "colour": "categorical",
                     "grade": "categorical"}  # fmt: skip
    assert bundle.preprocessing["ignored"] == {"count": "data.drop"}
    features = bundle.preprocessing["features"]
    assert features == ["key", "size", "colour=blue", "colour=green", "colour=red",
                        "grade=1", "grade=2", "grade=3"]  # fmt: skip
    x = bundle.train.x
    assert x.shape[1] == 8 and torch.all(x[:, 2:5].sum(1) == 1) and torch.all(x[:, 5:].sum(1) == 1)
    assert "2 numeric, 2 categorical (6 categories, one-hot), 1 ignored: count" in notes(bundle)


def test_numeric_gaps_get_the_training_median_and_a_missing_column(tmp_path):
    bundle = load(tmp_path, table(gaps=True))
    size = columns(bundle)["size"]
    names = bundle.preprocessing["features"]
    s, flag = names.index("size"), names.index("size_missing")
    train = bundle.train.x
    known = train[train[:, flag] == 0, s].double().numpy()
    assert size["gaps"] and size["median"] == pytest.approx(np.median(known))
    filled = train[train[:, flag] == 1, s]
    assert len(filled) and torch.all(filled == size["median"])
    assert "missing cells: 4 numeric filled with the training median" in notes(bundle)


def test_categorical_gaps_get_their_own_missing_category(tmp_path):
    bundle = load(tmp_path, table(gaps=True))
    names = bundle.preprocessing["features"]
    assert names[names.index("colour=red") + 1] == "colour_missing"
    x = torch.cat([bundle.train.x, bundle.val.x, bundle.test.x])
    block = x[:, names.index("colour=blue") : names.index("colour_missing") + 1]
    assert torch.all(block.sum(1) == 1) and int(block[:, -1].sum()) == 4
    assert "4 categorical as category 'missing'" in notes(bundle)


def test_missing_drop_drops_rows_with_a_gap(tmp_path):
    bundle = load(tmp_path, table(gaps=True), missing="drop")
    assert sum(bundle.info["sizes"].values()) == 32  # 4 gaps in size, 4 in colour
    assert not any(n.endswith("_missing") for n in bundle.preprocessing["features"])
    assert "rows dropped: 8 with a missing cell (data.missing: drop)" in notes(bundle)


def test_rows_without_a_target_are_dropped_and_counted(tmp_path):
    lines = table().splitlines()
    for i in (3, 9):
        lines[i] = lines[i].rsplit(",", 1)[0] + ",NA"
    lines[12] = lines[12].rsplit(",", 1)[0] + ",?"
    bundle = load(tmp_path, "\n".join(lines) + "\n")
    assert sum(bundle.info["sizes"].values()) == 37
    assert bundle.info["preprocessing"]["rows_dropped"]["no_target"] == 3
    assert "rows dropped: 3 without a target 'y'" in notes(bundle)


def test_data_na_values_adds_markers(tmp_path):
    text = table().replace("\n1.5,3.5,", "\n1.5,n/a,", 1)
    with pytest.raises(MlcoreError, match=r"column 'size' holds numbers except in 1 cell \('n/a'"):
        load(tmp_path, text)
    bundle = load(tmp_path, text, na_values=["n/a"])
    assert "missing cells: 1 numeric filled" in notes(bundle)
    bundle = load(tmp_path, table().replace("\n1.5,3.5,", "\n1.5,-999,", 1), na_values=[-999])
    assert "missing cells: 1 numeric filled" in notes(bundle)


def test_an_unseen_category_encodes_as_zeros_and_is_counted(tmp_path):
    lines = table(60).splitlines()
    lines[7] = lines[7].replace(",red,", ",purple,").replace(",green,", ",purple,")
    lines[7] = lines[7].replace(",blue,", ",purple,")
    text = "\n".join(lines) + "\n"
    for seed in range(20):  # the one purple row lands in val or test for some seed
        path = tmp_path / "t.csv"
        path.write_text(text)
        cfg = DataConfig(name="csv", path=str(path), target="y", normalize=False)
        bundle = build_data(cfg, seed)
        if "colour=purple" not in bundle.preprocessing["features"]:
            break
    else:
        pytest.fail("the purple row was in train for every seed")
    unseen = bundle.info["preprocessing"]["unseen"]
    assert sum(n for split in unseen.values() for n in split.values()) == 1
    assert "unseen categories: 1 cells" in notes(bundle)
    held = torch.cat([bundle.val.x, bundle.test.x])
    names = bundle.preprocessing["features"]
    block = held[:, names.index("colour=blue") : names.index("colour=red") + 1]
    assert int((block.sum(1) == 0).sum()) == 1  # the purple row


def test_id_like_columns_are_dropped_with_a_note(tmp_path):
    lines = table().splitlines()
    text = "\n".join(
        [f"id,name,{lines[0]}"] + [f"{i},penguin{i},{row}" for i, row in enumerate(lines[1:])]
    )
    bundle = load(tmp_path, text + "\n")
    ignored = bundle.preprocessing["ignored"]
    assert set(ignored) == {"id", "name"} and "ID-like" in ignored["id"]
    assert "id" not in columns(bundle) and "ignored: id (ID-like" in notes(bundle)


def test_free_text_is_refused_naming_the_column_and_data_drop(tmp_path):
    lines = table().splitlines()
    words = [f"note {i // 2 if i < 10 else i}" for i in range(40)]  # 35 distinct of 40
    text = "\n".join([lines[0] + ",comment"] + [r + f",{w}" for r, w in zip(lines[1:], words)])
    with pytest.raises(MlcoreError, match=r"'comment' looks like free text.*data\.drop"):
        load(tmp_path, text + "\n")
    assert "comment" in load(tmp_path, text + "\n", drop=["comment"]).preprocessing["ignored"]


@pytest.mark.parametrize("sep", [";", "\t", "   "])
def test_the_delimiter_is_sniffed(tmp_path, sep):
    comma = load(tmp_path, table(), name="comma.csv")
    other = load(tmp_path, table(sep=sep), name="other.csv")
    assert other.preprocessing["features"] == comma.preprocessing["features"]
    assert torch.equal(other.train.x, comma.train.x) and torch.equal(other.test.y, comma.test.y)
    given = {";": ";", "\t": "tab", "   ": "whitespace"}[sep]
    assert load(tmp_path, table(sep=sep), name="o.csv", delimiter=given).info["sizes"]


def test_a_wrong_delimiter_says_so_not_no_target_column(tmp_path):
    with pytest.raises(MlcoreError) as err:
        load(tmp_path, table(sep=";"), delimiter=",")
    assert "one column 'key;size;count;colour;grade;y'; is the delimiter ';'" in str(err.value)
    assert "no target column" not in str(err.value)


def test_a_missing_header_is_refused(tmp_path):
    with pytest.raises(MlcoreError, match="row 1 must be the header"):
        load(tmp_path, "1,2,3\n4,5,6\n")


def test_every_problem_is_reported_at_once(tmp_path):
    lines = table().splitlines()
    body = [r + f",{'x' if i == 4 else i % 5},text {i if i > 7 else 0}"  # 33 distinct texts
            for i, r in enumerate(lines[1:])]  # fmt: skip
    text = "\n".join([lines[0] + ",typo,comment", *body]) + "\n"
    with pytest.raises(MlcoreError) as err:
        load(tmp_path, text, categorical=["nope"], drop=["y"])
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 't.csv'}: 4 problems: (1) data.categorical: no")
    for part in ("column 'nope'", "data.drop lists the target 'y'", "column 'typo' holds numbers",
                 "column 'comment'"):  # fmt: skip
        assert part in message
    assert "\n" not in message


def test_statistics_are_fitted_on_the_training_rows_only(tmp_path):
    base = load(tmp_path, table(60, gaps=True), name="a.csv")
    held = set(torch.cat([base.val.x[:, 0], base.test.x[:, 0]]).tolist())  # key = row + 0.5
    lines = table(60, gaps=True).splitlines()
    for i in range(60):
        if i + 0.5 in held:  # only validation and test rows change: new sizes, a new colour
            cells = lines[i + 1].split(",")
            cells[1], cells[3] = "1000", "purple"
            lines[i + 1] = ",".join(cells)
    moved = load(tmp_path, "\n".join(lines) + "\n", name="b.csv")
    assert moved.preprocessing == base.preprocessing  # medians, categories, names
    assert torch.equal(moved.train.x, base.train.x)
    assert not torch.equal(moved.test.x, base.test.x)


def test_regression_csv_with_a_categorical_column(tmp_path):
    lines = table().splitlines()
    text = "\n".join([lines[0]] + [r.rsplit(",", 1)[0] + f",{i * 0.37:.2f}"
                                    for i, r in enumerate(lines[1:])])  # fmt: skip
    bundle = load(tmp_path, text + "\n")
    assert bundle.task == "regression" and bundle.train.y.dtype == torch.float32
    assert "colour=red" in bundle.preprocessing["features"]


def test_pandas_is_not_imported_at_cli_start_up():
    code = (
        "import sys, mlcore.cli, mlcore.data, mlcore.config; "
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def penguins(tmp_path):
    source = importlib.resources.files("palmerpenguins") / "data" / "penguins.csv"
    with importlib.resources.as_file(source) as path:
        shutil.copy(path, tmp_path / "penguins.csv")
    return tmp_path / "penguins.csv"


def test_penguins_train_eval_and_the_checkpoint(cli, tmp_path, write_config):
    """The file as it ships (text columns, NA cells) through the real CLI. 50 epochs: the
    default 10 are 40 steps of 241 rows, which leaves Chinstrap unlearned (0.80)."""
    path = penguins(tmp_path)
    tree = tiny({"data": {"name": "csv", "path": str(path), "target": "species"}}, epochs=50)
    result = cli("train", write_config(tree), "--run-dir", tmp_path / "run")
    assert result.code == 0, result.out + result.err
    assert "columns: 5 numeric, 2 categorical (5 categories, one-hot); 15 features" in result.out
    assert "missing cells: 8 numeric filled with the training median" in result.out
    assert "missing cells: 8 numeric" in (tmp_path / "run" / "train.log").read_text()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test"]["accuracy"] > 0.9
    state = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)
    saved = state["data"]["preprocessing"]
    assert saved["target"] == "species" and len(saved["features"]) == 15
    island = next(c for c in saved["columns"] if c["name"] == "island")
    assert island["categories"] == ["Biscoe", "Dream", "Torgersen"]
    json.dumps(saved)  # plain data throughout
    evaluated = cli("eval", tmp_path / "run", "--json")
    assert evaluated.code == 0, evaluated.out + evaluated.err
    report = json.loads(evaluated.out)
    assert report["accuracy"] == summary["test"]["accuracy"]
    assert report["confusion_matrix"] == summary["test"]["confusion_matrix"]


def test_eval_applies_the_saved_encoding(tmp_path):
    """The checkpoint's encoding, not a new fit: a file whose text changed under it is
    refused with the column named instead of silently encoded another way."""
    bundle = load(tmp_path, table(gaps=True), name="a.csv")
    again = build_data(
        DataConfig(name="csv", path=str(tmp_path / "a.csv"), target="y", normalize=False),
        seed=0,
        preprocessing=bundle.preprocessing,
    )
    assert torch.equal(again.test.x, bundle.test.x)
    assert "fitted on the checkpoint" in notes(again)
    rows = [line.split(",") for line in table(gaps=True).splitlines()]
    (tmp_path / "b.csv").write_text("".join(",".join(r[:3] + r[4:]) + "\n" for r in rows))
    cfg = DataConfig(name="csv", path=str(tmp_path / "b.csv"), target="y", normalize=False)
    with pytest.raises(MlcoreError, match="no column 'colour', which the run's saved encoding"):
        build_data(cfg, seed=0, preprocessing=bundle.preprocessing)
