"""The CLI contracts other issues and checks rely on."""

import json
import subprocess
import sys

import pytest

from fedcore.cli.main import main


def test_privacy_epsilon_prints_the_accountant_value_last(capsys):
    code = main(["privacy", "epsilon", "--noise-multiplier", "1.5", "--sample-rate", "0.04",
                 "--steps", "2250", "--delta", "1e-5", "--accountant", "rdp"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0 and float(last) == pytest.approx(7.32911, abs=0.005)


def test_privacy_plan_prints_a_multiplier_that_meets_the_target(capsys):
    code = main(["privacy", "plan", "--target-epsilon", "3", "--rows", "600", "--batch-size", "200",
                 "--epochs-per-round", "5", "--rounds", "6", "--delta", "1e-5"])
    sigma = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    main(["privacy", "epsilon", "--noise-multiplier", str(sigma), "--sample-rate", str(200 / 600),
          "--steps", str(3 * 5 * 6), "--delta", "1e-5"])
    assert float(capsys.readouterr().out.strip().splitlines()[-1]) <= 3.0 + 1e-3


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code = main(["simulate", "--data", str(bad), "--schema", "healthcare", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "lacks schema columns" in err and "Traceback" not in err


@pytest.mark.parametrize("flag", [["--rounds", "2"], ["--epochs-per-round", "3"], ["--sampling-steps", "9"]])
def test_training_flags_for_the_marginal_family_are_refused_not_ignored(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", "--family", "marginal", *flag, "--out", str(tmp_path / "o")])
    assert flag[0] in str(stopped.value) and "marginal" in str(stopped.value)
    assert not (tmp_path / "o").exists()


def test_schema_infer_writes_a_loadable_schema(tmp_path):
    from fedcore.datasets import actg175_csv_path
    from fedcore.schema import load_schema

    import pandas as pd

    csv = tmp_path / "actg.csv"
    pd.read_csv(actg175_csv_path()).drop(columns=["Unnamed: 0", "pidnum", "zprior"]).to_csv(csv, index=False)
    out = tmp_path / "schema.yaml"
    assert main(["schema", "infer", "--data", str(csv), "--target", "cens", "--out", str(out)]) == 0
    schema = load_schema(out)
    assert schema.target == "cens" and len(schema.columns) == 25


@pytest.mark.slow  # a subprocess that trains and samples (about 6 s alone, more under load)
def test_bench_quick_prints_one_json_object():
    result = subprocess.run([sys.executable, "-m", "fedcore", "bench", "--json", "--quick"],
                            capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"dp_train", "aggregate", "generate"}
    assert report["dp_train"]["ratio"] > 0 and report["aggregate"]["peak_mb_5"] > 0


@pytest.mark.slow
def test_simulate_end_to_end_writes_the_report_contract(tmp_path):
    out = tmp_path / "sim"
    result = subprocess.run(
        [sys.executable, "-m", "fedcore", "simulate", "--data", "actg175", "--spokes", "3", "--rounds", "1",
         "--epochs-per-round", "1", "--rows", "300", "--family", "diffusion", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    for section, key in [("quality", "column_shapes"), ("quality", "column_pair_trends"), ("utility", "tstr"),
                         ("utility", "trtr"), ("privacy", "epsilon"), ("privacy", "delta"), ("privacy", "dcr_share")]:
        assert key in report[section]
    assert set(report["privacy"]["epsilon"]) == {"hospital-a", "hospital-b", "hospital-c"}
    assert all(0 < e <= 3.0 + 1e-6 for e in report["privacy"]["epsilon"].values())
    assert [r["round"] for r in report["rounds"]] == [1]
    assert {"round", "loss", "spokes", "seconds"} <= set(report["rounds"][0])
    import pandas as pd

    from fedcore.datasets import load_actg175

    synthetic = pd.read_csv(out / "synthetic.csv")
    assert len(synthetic) == 300 and list(synthetic.columns) == list(load_actg175().frame.columns)
    assert (out / "report.html").read_text().count("<img") >= 26
