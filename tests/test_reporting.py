"""Tests for policyml.report.reporting: estimates checked against hand calculations, formatting, figures, loaders."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotnine as p9
import pytest

from policyml.core.errors import ConfigError, DataError
from policyml.core.survey import REPLICATES, SDR_FACTOR
from policyml.report import reporting as rp

# --------------------------------------------------------------------------------------------------
# Synthetic households and independent reference calculations
# --------------------------------------------------------------------------------------------------


def make_households(seed: int = 3, per_puma: tuple[int, ...] = (60, 45, 12)) -> pd.DataFrame:
    """Households in a few PUMAs with integer full-sample and replicate weights (some zero)."""
    rng = np.random.default_rng(seed)
    n = sum(per_puma)
    frame = pd.DataFrame({
        "SERIALNO": [f"2018HU{i:07d}" for i in range(n)],
        "puma": np.repeat([f"{100 * (k + 1):05d}" for k in range(len(per_puma))], per_puma),
        "puma_vintage": 2010,
        "household_income": rng.integers(-2, 60, n) * 1000.0,
        "POVPIP": rng.integers(0, 502, n).astype(float),
        "SCHL": rng.integers(1, 25, n).astype(float),
        "ESR": rng.choice([1.0, 3.0, 6.0], n),
        "sex": pd.Categorical(rng.choice(["Male", "Female"], n), categories=["Male", "Female"]),
        "race": pd.Categorical(np.where(np.arange(n) < 4, "Asian alone", "White alone"),
                               categories=["White alone", "Asian alone", "Alaska Native alone"]),
        "WGTP": rng.integers(1, 40, n),
    })
    replicates = pd.DataFrame(rng.integers(0, 80, (n, REPLICATES)),
                              columns=[f"WGTP{r}" for r in range(1, REPLICATES + 1)])
    return pd.concat([frame, replicates], axis=1)


def expanded_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Median of the sample with each record repeated as often as its (integer) weight."""
    return float(np.quantile(np.repeat(values, weights), 0.5, method="inverted_cdf"))


def hand_sdr(estimate: float, replicate_estimates: list[float]) -> float:
    return math.sqrt(SDR_FACTOR * sum((r - estimate) ** 2 for r in replicate_estimates))


# --------------------------------------------------------------------------------------------------
# PUMA and group estimates
# --------------------------------------------------------------------------------------------------


def test_puma_estimates_median_matches_expanded_sample():
    """Check that each PUMA median equals np.quantile on the weight-expanded sample and its SE a hand SDR loop."""
    households = make_households()
    table = rp.puma_estimates(households).set_index("puma")
    for puma, rows in households.groupby("puma"):
        income = rows["household_income"].to_numpy()
        median = expanded_median(income, rows["WGTP"].to_numpy())
        replicate_medians = [expanded_median(income, rows[f"WGTP{r}"].to_numpy()) for r in range(1, REPLICATES + 1)]
        assert table.loc[puma, "median_income"] == median
        assert table.loc[puma, "median_income_se"] == pytest.approx(hand_sdr(median, replicate_medians), rel=1e-12)
        assert table.loc[puma, "median_income_moe90"] == pytest.approx(1.645 * table.loc[puma, "median_income_se"])
        assert table.loc[puma, "n"] == len(rows)


def test_puma_estimates_low_income_share_matches_hand_ratio():
    """Check that the low-income share is the weighted share below the line (POVPIP < threshold), with its SE."""
    households = make_households()
    table = rp.puma_estimates(households, targets={"low_income_threshold": 150}).set_index("puma")
    rows = households.loc[households["puma"] == "00200"]
    flag = (rows["POVPIP"] < 150).to_numpy(dtype=float)

    def share(w: np.ndarray) -> float:
        return float((flag * w).sum() / w.sum())

    estimate = share(rows["WGTP"].to_numpy(dtype=float))
    replicate_shares = [share(rows[f"WGTP{r}"].to_numpy(dtype=float)) for r in range(1, REPLICATES + 1)]
    assert table.loc["00200", "low_income_share"] == pytest.approx(estimate, rel=1e-12)
    assert table.loc["00200", "low_income_share_se"] == pytest.approx(hand_sdr(estimate, replicate_shares), rel=1e-9)


def test_puma_estimates_flags_small_puma_with_reason():
    """Check that a PUMA with fewer than 30 sample households is unreliable and says why."""
    table = rp.puma_estimates(make_households()).set_index("puma")
    assert not table.loc["00300", "reliable"]
    assert "12 sample cases" in table.loc["00300", "reason"]
    assert list(table.columns[:4]) == ["puma_vintage", "n", "households", "households_se"]


def test_group_income_table_suppresses_small_groups():
    """Check that groups under 10 sample households are suppressed with the reason, and empty ones kept."""
    table = rp.group_income_table(make_households(), groups=("race", "sex"))
    race = table.loc[table["group_variable"] == "race"].set_index("group")
    assert race.loc["Asian alone", "suppressed"] and "only 4 sample households" in race.loc["Asian alone", "reason"]
    assert race.loc["Alaska Native alone", "n"] == 0 and np.isnan(race.loc["Alaska Native alone", "median_income"])
    assert not race.loc["White alone", "suppressed"]


def test_domain_difference_se_matches_paired_replicates():
    """Check that a gap in medians has the SE of the 80 paired replicate gaps, not of summed variances."""
    households = make_households()
    male = (households["sex"] == "Male").to_numpy()
    gap = rp.domain_difference(households, male, ~male)
    income = households["household_income"].to_numpy()

    def median_gap(column: str) -> float:
        w = households[column].to_numpy()
        return expanded_median(income[male], w[male]) - expanded_median(income[~male], w[~male])

    expected = median_gap("WGTP")
    replicate_gaps = [median_gap(f"WGTP{r}") for r in range(1, REPLICATES + 1)]
    assert gap.estimate == pytest.approx(expected)
    assert gap.se == pytest.approx(hand_sdr(expected, replicate_gaps), rel=1e-12)


def test_low_income_threshold_is_read_off_the_data_without_a_recorded_line():
    """Check that the line is the smallest poverty ratio among households not flagged low-income."""
    households = pd.DataFrame({"SERIALNO": list("abcd"), "POVPIP": [50.0, 199.0, 200.0, 400.0]})
    features = pd.DataFrame({"SERIALNO": list("dcba"), "low_income": [0.0, 0.0, 1.0, 1.0]})
    assert rp.low_income_threshold({}, households, features) == 200.0
    assert rp.low_income_threshold({"low_income_threshold": 138}, households, features) == 138.0


# --------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------


def test_fmt_dollars_formats_amounts_and_missing():
    """Check that dollar amounts get a sign, a dollar sign and thousands separators; NaN a dash."""
    assert rp.fmt_dollars(45791.98) == "$45,792"
    assert rp.fmt_dollars(-1377.02) == "-$1,377"
    assert rp.fmt_dollars(-0.2) == "$0"
    assert rp.fmt_dollars(float("nan")) == "–" and rp.fmt_dollars(None) == "–"


def test_fmt_moe_shows_percent_margins_in_points():
    """Check that shares carry their margin in percentage points and dollars in dollars."""
    assert rp.fmt_moe(0.3842, 0.0204, "percent") == "38.4% (±2.0 pp)"
    assert rp.fmt_moe(45791.98, 1540.53, "dollars") == "$45,792 (±$1,541)"
    assert rp.fmt_se(0.768, 0.014, "percent") == "76.8% (SE 1.4 pp)"
    assert rp.fmt_moe(0.5, float("nan"), "percent") == "50.0% (MOE n/a)"
    assert rp.fmt_change(-0.0113, "percent") == "-1.1 pp" and rp.fmt_change(825.4, "dollars") == "+$825"


def test_fmt_value_rejects_unknown_kind():
    """Check that an unknown number kind is a ConfigError naming the allowed kinds."""
    with pytest.raises(ConfigError, match="use 'dollars', 'percent', 'points' or 'number'"):
        rp.fmt_value(1.0, "euros")


def test_gap_sentence_wording_follows_the_interval():
    """Check that a gap whose 90% interval covers zero is called not distinguishable, otherwise distinguishable."""
    clear = rp.gap_sentence("The gap", 1000.0, 300.0)
    unclear = rp.gap_sentence("The gap", 1000.0, 700.0)
    assert "statistically distinguishable from zero" in clear and "not" not in clear
    assert "**not** statistically distinguishable" in unclear
    assert "90% CI -$152 to $2,152" in unclear  # 1000 -/+ 1.645 * 700


def test_markdown_table_escapes_data_labels_and_aligns_numbers():
    """Check that labels with Markdown/HTML syntax are escaped and amount columns right-aligned."""
    frame = pd.DataFrame({"Group": ["<script>alert(1)</script>", "a|b"], "Median": ["$45,792", "$1,200"]})
    text = rp.markdown_table(frame).data
    assert "\\<script\\>" in text and "<script>" not in text.replace("\\<script\\>", "")
    assert "a\\|b" in text and "\\$45,792" in text
    header_rule = text.splitlines()[1]
    assert header_rule.startswith("|:") and header_rule.rstrip().endswith(":|")


def test_md_escapes_amounts_but_not_math():
    """Check that dollar amounts are escaped so pandoc cannot read them as math, and math is kept."""
    assert rp.md("from $1,200 to $3") == "from \\$1,200 to \\$3"
    assert rp.md("$\\sigma(z)$ and \\$5") == "$\\sigma(z)$ and \\$5"


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def test_group_estimate_plot_draws_and_names_suppressed_groups():
    """Check that the group plot is a ggplot that draws without warnings and lists suppressed groups."""
    table = rp.group_income_table(make_households(), groups=("race", "sex"))
    figure = rp.group_estimate_plot(table, reference=30000.0)
    assert isinstance(figure, p9.ggplot)
    figure.draw()  # pytest turns any warning into an error
    assert "Asian alone" in figure.labels.get("caption", "")


def test_tuning_plot_draws_and_reports_non_numeric_hyperparameters():
    """Check that candidates with non-numeric settings ("sqrt", None) are left out and named in the caption."""
    tuning = pd.DataFrame({
        "candidate": range(4), "iteration": [0, 0, 0, 1], "n_resources": [100, 100, 100, 300],
        "max_features": ["sqrt", 0.3, 0.5, 0.5], "min_samples_leaf": [10, 20, 30, 20],
        "params": ['{"model__max_features": 0.5, "model__min_samples_leaf": 20}'] * 4,
        "mean_test_score": [-0.8, -0.75, -0.7, -0.69], "std_test_score": 0.01, "rank_test_score": [4, 3, 2, 1],
    })
    frame, skipped = rp.tuning_frame(tuning, "regression")
    assert skipped == ["max_features (candidates with a non-numeric value: 1)"]
    assert frame.loc[frame["hyperparameter"] == "min_samples_leaf", "score"].tolist() == [0.8, 0.75, 0.7, 0.69]
    figure = rp.tuning_plot(tuning, "regression", "random_forest")
    figure.draw()
    assert rp.best_candidate(tuning)["params"] == {"max_features": 0.5, "min_samples_leaf": 20}


def test_puma_map_falls_back_to_outline_with_reason():
    """Check that a state without PUMA shapes gets its outline, with the reason in the caption."""
    geography = rp.map_geography("DE", 2010)
    assert geography.shapes is None and "Delaware" in geography.reason
    values = pd.DataFrame({"puma": ["00101"], "median_income": [50000.0], "reliable": [True]})
    figure = rp.puma_map(geography, values, "median_income", "Median household income")
    figure.draw()
    assert "No PUMA map" in figure.labels.get("caption", "") and "Delaware" in figure.labels.get("caption", "")
    assert rp.puma_map(geography, values, "median_income", "Median household income", fallback=False) is None
    table = rp.puma_table(rp.puma_estimates(make_households()), geography)
    assert table["PUMA"].tolist()[0] in {"00100", "00200", "00300"}  # codes only, no names without shapes


def test_puma_map_washes_out_unreliable_pumas():
    """Check that an embedded state's map draws every PUMA and counts the unreliable ones in the caption."""
    geography = rp.map_geography("VT", 2010)
    values = pd.DataFrame({"puma": geography.shapes["puma"], "median_income": [50000.0, 61000.0, 58000.0, 47000.0],
                           "reliable": [True, False, True, True]})
    figure = rp.puma_map(geography, values, "median_income", "Median household income")
    figure.draw()
    assert "1 PUMA(s) whose estimate is unreliable" in figure.labels.get("caption", "")


# --------------------------------------------------------------------------------------------------
# Loading, model choice, the network walk-through
# --------------------------------------------------------------------------------------------------


def test_results_read_missing_file_names_the_file_and_the_rule(tmp_path):
    """Check that a missing output is a DataError naming its path and the Snakemake rule that writes it."""
    results = rp.Results(tmp_path)
    with pytest.raises(DataError) as error:
        results.read("metrics", task="regression")
    assert str(tmp_path / "households" / "metrics" / "regression.csv") in str(error.value)
    assert "evaluate_models" in error.value.hint
    with pytest.raises(DataError, match="run_scenarios"):
        results.read("scenarios")


def test_results_read_keeps_puma_codes_as_text(tmp_path):
    """Check that CSV codes such as PUMA 00100 keep their leading zeros."""
    pd.DataFrame({"puma": ["00100"], "median_income": [1.0]}).to_csv(tmp_path / "puma_estimates.csv", index=False)
    assert rp.Results(tmp_path).read("puma_estimates")["puma"].tolist() == ["00100"]


def test_results_unknown_output_is_a_config_error(tmp_path):
    """Check that asking for an unknown report input names the known ones."""
    with pytest.raises(ConfigError, match="unknown output 'metric'"):
        rp.Results(tmp_path).read("metric")


def metrics_frame(difference: float, se: float) -> pd.DataFrame:
    rows = [("dummy", None, 0.99, 0.03), ("ols", None, 0.73, 0.02), ("xgboost", None, 0.71, 0.02),
            ("xgboost", "ols", difference, se), ("dummy", "ols", 0.26, 0.02)]
    return pd.DataFrame([{"model": m, "baseline": b, "metric": "rmse", "estimate": e, "se": s} for m, b, e, s in rows])


def test_select_model_prefers_the_baseline_when_the_gain_is_not_distinguishable():
    """Check that the best model is chosen only when its edge over the baseline exceeds 1.645 SE."""
    assert rp.select_model(metrics_frame(-0.02, 0.01), "regression").chosen == "xgboost"
    unclear = rp.select_model(metrics_frame(-0.02, 0.02), "regression")
    assert unclear.chosen == "ols" and unclear.best == "xgboost"
    assert "**not** statistically distinguishable" in rp.choice_sentence(unclear)


def test_worked_neuron_reproduces_the_lecture():
    """Check the lecture's neuron: 0.36*1 + 0.48*2 + 0.42*3 + 0.10 = 2.68 and sigmoid(2.68) = 0.936."""
    neuron = rp.worked_neuron()
    assert neuron["z"] == pytest.approx(0.36 + 0.96 + 1.26 + 0.10)
    assert neuron["output"] == pytest.approx(1 / (1 + math.exp(-2.68)))
    assert round(neuron["output"], 2) == 0.94


def test_lecture_network_counts_36_parameters():
    """Check the lecture's 5-5-1 network: 5*(5+1) + 1*(5+1) = 36 parameters."""
    network = rp.lecture_network()
    assert network["layers"] == [30, 6] and network["total"] == 36


def test_backprop_step_gradient_matches_finite_difference_and_lowers_the_loss():
    """Check that the backpropagated gradient equals a central finite difference and one step lowers the loss."""
    step = rp.backprop_step()
    assert step["gradient"] == pytest.approx(step["numeric_gradient"], rel=1e-5)
    assert step["weight_after"] == pytest.approx(step["weight_before"] - step["learning_rate"] * step["gradient"])
    assert step["loss_after"] < step["loss_before"]


# --------------------------------------------------------------------------------------------------
# The report document itself
# --------------------------------------------------------------------------------------------------

REPORT = Path(__file__).resolve().parents[1] / "report" / "report.qmd"


def report_chunks(text: str) -> list[str]:
    return re.findall(r"^```\{python\}\n(.*?)^```$", text, flags=re.S | re.M)


def test_report_parameters_chunk_comes_first_with_the_defaults():
    """Check that the first chunk is tagged parameters and sets state, year and results."""
    first = report_chunks(REPORT.read_text())[0]
    assert "#| tags: [parameters]" in first
    assert 'state = "NM"' in first and "year = 2018" in first and 'results = "results/NM/2018"' in first


def test_report_chunks_have_unique_labels_and_no_inline_code():
    """Check that every chunk has a unique label, echo false, and that no Quarto inline code is used."""
    text = REPORT.read_text()
    chunks = report_chunks(text)
    labels = [re.search(r"^#\| label: (\S+)$", chunk, flags=re.M).group(1) for chunk in chunks]
    assert len(labels) == len(set(labels)) == len(chunks)
    assert all("#| echo: false" in chunk for chunk in chunks)
    assert not re.search(r"(?<!``)`\{python\}", text)  # inline `{python} expr` is not supported by the fallback
    assert not any("`" * 3 in chunk for chunk in chunks)


def test_report_every_section_has_a_policy_insight():
    """Check that each numbered top-level section holds at least one Policy Insight callout."""
    body = REPORT.read_text().split("\n---\n", 1)[1]
    body = re.sub(r"^```\{python\}\n.*?^```$", "", body, flags=re.S | re.M)
    sections = [s for s in re.split(r"^# ", body, flags=re.M)[1:]
                if "{.unnumbered}" not in s.splitlines()[0]]  # the appendix
    assert len(sections) == 11
    for section in sections:
        assert '::: {.callout-note title="Policy Insight"}' in section, section.splitlines()[0]
