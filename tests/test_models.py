"""Tests for policyml.model.models, checked against closed forms and plain refitting loops."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import sklearn
import xgboost
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss, root_mean_squared_error
from sklearn.model_selection import ParameterSampler

from policyml.core.errors import ConfigError, DataError
from policyml.core.survey import REPLICATES, SDR_FACTOR, Z90
from policyml.model import models

NUMERIC = ["age", "rooms", "workers", "age_x_workers"]
CATEGORICAL = ["tenure", "education"]
N = 600


def make_data(seed: int = 0, n: int = N) -> dict:
    """Synthetic households: numeric columns with NaN, a category and a str column with NaN and
    a rare level, a log-income target and a low-income flag, integer weights, 80 replicates."""
    rng = np.random.default_rng(seed)
    age = rng.normal(45, 15, n)
    age[rng.random(n) < 0.06] = np.nan
    rooms = rng.integers(1, 10, n).astype(float)
    rooms[rng.random(n) < 0.1] = np.nan
    workers = rng.integers(0, 4, n).astype(float)
    tenure = rng.choice(["Owned", "Rented", "Mortgage", "Rare"], n, p=[0.4, 0.3, 0.29, 0.01])
    tenure = pd.Categorical(np.where(rng.random(n) < 0.05, None, tenure))
    education = pd.Series(rng.choice(["HS", "BA", "Grad"], n), dtype="str")
    education[rng.random(n) < 0.05] = None
    X = pd.DataFrame(
        {
            "age": age,
            "rooms": rooms,
            "workers": workers,
            "age_x_workers": age * workers,  # missing where age is: a duplicate indicator
            "tenure": tenure,
            "education": education,
            "household_id": np.arange(n),  # not a feature: must be ignored
        }
    )
    signal = (
        0.01 * np.nan_to_num(age, nan=45.0)
        + 0.3 * workers
        + 0.5 * (education == "Grad").to_numpy()
        - 0.3 * (X["tenure"] == "Rented").to_numpy()
    )
    y = 10.5 + signal + rng.normal(0, 0.7, n)
    y_class = (10.5 + signal + rng.normal(0, 0.7, n) < 11.0).astype(int)
    # The rare level holds both classes, so the unpenalised logistic MLE is finite.
    y_class[np.flatnonzero(tenure == "Rare")[:2]] = [0, 1]
    weights = rng.integers(1, 100, n)
    replicate_weights = rng.integers(0, 200, (n, REPLICATES))  # includes zeros
    folds = [
        (np.setdiff1d(np.arange(n), part), np.sort(part))
        for part in np.array_split(rng.permutation(n), 3)
    ]
    return {
        "X": X,
        "y": y,
        "y_class": y_class,
        "weights": weights,
        "replicate_weights": replicate_weights,
        "folds": folds,
    }


@pytest.fixture(scope="module")
def data() -> dict:
    return make_data()


def fit(name: str, task: str, data: dict, **kwargs):
    y = data["y"] if task == "regression" else data["y_class"]
    return models.fit_model(
        name, task, data["X"], y, data["weights"],
        numeric=NUMERIC, categorical=CATEGORICAL, **kwargs,
    )


def design(pipeline, X: pd.DataFrame) -> np.ndarray:
    return pipeline.named_steps["preprocess"].transform(X)


def loop_se(estimate: float, replicate_estimates: list[float]) -> float:
    return float(np.sqrt(SDR_FACTOR * sum((b - estimate) ** 2 for b in replicate_estimates)))


# --------------------------------------------------------------------------------------------------
# Weighted fitting
# --------------------------------------------------------------------------------------------------


def test_ols_equals_weighted_least_squares(data):
    """Check that weighted OLS through the pipeline equals closed-form WLS on the design matrix."""
    pipeline = fit("ols", "regression", data)
    Z = design(pipeline, data["X"])
    A = np.column_stack([np.ones(len(Z)), Z])
    root = np.sqrt(data["weights"].astype(float))
    expected, *_ = np.linalg.lstsq(A * root[:, None], data["y"] * root, rcond=None)
    model = pipeline.named_steps["model"]
    got = np.concatenate([[model.intercept_], model.coef_])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    unweighted = LinearRegression().fit(Z, data["y"])
    assert np.max(np.abs(unweighted.coef_ - model.coef_)) > 1e-3  # weights reached the estimator


def test_dummy_regressor_predicts_weighted_mean(data):
    """Check that the dummy regressor predicts the survey-weighted mean of the target."""
    pipeline = fit("dummy", "regression", data)
    predictions = models.predict(pipeline, "regression", data["X"].head(5))
    expected = np.average(data["y"], weights=data["weights"])
    np.testing.assert_allclose(predictions, expected, rtol=1e-12)
    assert abs(expected - data["y"].mean()) > 1e-4


def test_dummy_classifier_predicts_weighted_share(data):
    """Check that the dummy classifier's class-1 probability is the weighted low-income share."""
    pipeline = fit("dummy", "classification", data)
    predictions = models.predict(pipeline, "classification", data["X"].head(3))
    np.testing.assert_allclose(predictions, np.average(data["y_class"], weights=data["weights"]))


def test_logistic_matches_direct_unpenalised_fit(data):
    """Check that the logistic pipeline equals an unpenalised weighted fit on the design matrix."""
    pipeline = fit("logistic", "classification", data)
    Z = design(pipeline, data["X"])
    y, w = data["y_class"], data["weights"].astype(float)  # the loss is invariant to weight scale
    model = pipeline.named_steps["model"]
    # C=inf is scikit-learn's replacement for penalty=None (deprecated in 1.8, FutureWarning).
    direct = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-8, max_iter=1000)
    direct.fit(Z, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, direct.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(model.intercept_, direct.intercept_, rtol=0, atol=1e-5)
    # Independent check: plain Newton-Raphson on the weighted log-likelihood reaches the same MLE.
    A = np.column_stack([np.ones(len(Z)), Z])
    beta = np.zeros(A.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ beta))
        step = np.linalg.solve(A.T @ (A * (w * p * (1 - p))[:, None]), A.T @ (w * (y - p)))
        beta += step
        if np.max(np.abs(step)) < 1e-12:
            break
    np.testing.assert_allclose(np.concatenate([model.intercept_, model.coef_[0]]), beta, atol=1e-5)
    penalised = LogisticRegression(max_iter=1000).fit(Z, y, sample_weight=w)
    assert np.max(np.abs(penalised.coef_ - model.coef_)) > 1e-3


def test_predict_returns_probability_of_class_one(data):
    """Check that classification predictions are the class-1 probabilities in [0, 1]."""
    pipeline = fit("xgboost", "classification", data)
    probabilities = models.predict(pipeline, "classification", data["X"])
    np.testing.assert_array_equal(probabilities, pipeline.predict_proba(data["X"])[:, 1])
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    assert np.corrcoef(probabilities, data["y_class"])[0, 1] > 0.2


def test_make_model_requests_sample_weight_without_global_routing(data):
    """Check that the estimator requests sample_weight and routing stays off outside the module."""
    pipeline = models.make_model("random_forest", "regression", NUMERIC, CATEGORICAL)
    requests = pipeline.named_steps["model"]._get_metadata_request().fit.requests
    assert requests["sample_weight"] is True
    fit("ols", "regression", data)
    assert sklearn.get_config()["enable_metadata_routing"] is False


# --------------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------------


def test_preprocessor_is_fitted_on_training_rows_only(data):
    """Check that imputer medians come from the training rows and unseen levels are ignored."""
    X = data["X"].copy()
    X["tenure"] = X["tenure"].cat.add_categories(["Unseen"])
    test_rows = np.arange(500, 600)
    X.loc[test_rows[:20], "tenure"] = "Unseen"
    X.loc[test_rows, "age"] += 40  # the test rows would move the median
    train = X.iloc[:500]
    pipeline = models.fit_model(
        "random_forest", "regression", train, data["y"][:500], data["weights"][:500],
        numeric=NUMERIC, categorical=CATEGORICAL,
    )
    numeric = pipeline.named_steps["preprocess"].named_transformers_["numeric"]
    imputer = numeric.named_steps["impute"]
    assert imputer.statistics_[0] == np.nanmedian(train["age"])
    assert imputer.statistics_[0] != np.nanmedian(X["age"])
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    assert "tenure_Unseen" not in names
    coded = pd.DataFrame(design(pipeline, X.iloc[test_rows[:20]]), columns=names)
    tenure_columns = [c for c in names if c.startswith("tenure_")]
    assert (coded[tenure_columns].to_numpy() == 0).all()
    assert np.isfinite(models.predict(pipeline, "regression", X.iloc[test_rows])).all()


def test_linear_preprocessor_warns_on_unseen_level(data):
    """Check that a linear pipeline codes an unseen level as the reference level, with a warning."""
    pipeline = fit("ols", "regression", data)
    X = data["X"].head(3).copy()
    X["tenure"] = X["tenure"].cat.add_categories(["Unseen"])
    X.loc[X.index[0], "tenure"] = "Unseen"
    with pytest.warns(UserWarning, match="unknown categories"):
        predictions = models.predict(pipeline, "regression", X)
    assert np.isfinite(predictions).all()


def test_preprocessor_feature_names_are_readable(data):
    """Check the design-matrix names: numeric, indicators, levels, the rare-level group."""
    names = list(design_names(fit("random_forest", "regression", data)))
    for expected in ("age", "missingindicator_age", "missingindicator_rooms", "tenure_Owned",
                     "tenure_Missing", "tenure_infrequent_sklearn", "education_Missing"):
        assert expected in names
    assert "tenure_Rare" not in names  # 1% of 600 rows < MIN_FREQUENCY
    assert "household_id" not in names
    # The interaction's missing indicator repeats age's and is dropped.
    assert "missingindicator_age_x_workers" not in names


def design_names(pipeline) -> np.ndarray:
    return pipeline.named_steps["preprocess"].get_feature_names_out()


def test_preprocessor_drops_reference_level_for_linear_models(data):
    """Check that linear models drop one level per categorical column and trees keep them all."""
    linear = set(design_names(fit("ols", "regression", data)))
    trees = set(design_names(fit("random_forest", "regression", data)))
    assert trees - linear == {"tenure_Missing", "education_BA"}


def test_preprocessor_accepts_integer_coded_categories(data):
    """Check that a category column of integer codes with NaN gets string levels and 'Missing'."""
    X = pd.DataFrame({"x": np.arange(40.0), "code": pd.Categorical([1, 2, None, 3] * 10)})
    preprocessor = models.make_preprocessor(["x"], ["code"], scale=False)
    coded = preprocessor.fit_transform(X)
    names = list(preprocessor.get_feature_names_out())
    assert names == ["x", "code_1", "code_2", "code_3", "code_Missing"]
    np.testing.assert_array_equal(coded[2], [2.0, 0, 0, 0, 1])


# --------------------------------------------------------------------------------------------------
# Tuning
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "task"), [("random_forest", "regression"), ("xgboost", "classification")]
)
def test_tune_scores_folds_with_weights(data, name, task):
    """Check that a CV score in cv_results equals the weighted score recomputed by hand."""
    y = data["y"] if task == "regression" else data["y_class"]
    result = models.tune(
        name, task, data["X"], y, data["weights"], data["folds"], n_candidates=4,
        resource="model__n_estimators", max_resources=27, numeric=NUMERIC, categorical=CATEGORICAL,
    )
    row = result.cv_results.iloc[-1]
    params = json.loads(row["params"])
    train, valid = data["folds"][0]
    weights = models.normalise_weights(data["weights"])  # as the search receives them
    pipeline = models.make_model(name, task, NUMERIC, CATEGORICAL, params=params)
    pipeline.fit(data["X"].iloc[train], y[train], model__sample_weight=weights[train])
    # The scorer sees the raw response (XGBoost returns float32 probabilities).
    if task == "regression":
        prediction = pipeline.predict(data["X"].iloc[valid])
    else:
        prediction = pipeline.predict_proba(data["X"].iloc[valid])[:, 1]
    w = data["weights"][valid]
    if task == "regression":
        weighted = -root_mean_squared_error(y[valid], prediction, sample_weight=w)
        unweighted = -root_mean_squared_error(y[valid], prediction)
    else:
        weighted = -log_loss(y[valid], prediction, sample_weight=w, labels=[0, 1])
        unweighted = -log_loss(y[valid], prediction, labels=[0, 1])
    assert row["split0_test_score"] == pytest.approx(weighted, rel=1e-9)
    assert abs(unweighted - weighted) > 1e-4
    assert result.scoring == models.SCORING[task]


def test_tune_is_deterministic(data):
    """Check that the same random_state gives identical cv_results and predictions."""
    def run(seed: int):
        return models.tune(
            "xgboost", "classification", data["X"], data["y_class"], data["weights"],
            data["folds"], n_candidates=4, random_state=seed,
            numeric=NUMERIC, categorical=CATEGORICAL,
        )

    first, second = run(0), run(0)
    pd.testing.assert_frame_equal(first.cv_results, second.cv_results)
    assert first.best_params == second.best_params
    np.testing.assert_array_equal(
        models.predict(first.best_estimator, "classification", data["X"]),
        models.predict(second.best_estimator, "classification", data["X"]),
    )
    # n_samples resource, min_resources="exhaust": the last round uses every training row.
    assert first.cv_results["n_resources"].max() > 0.8 * N
    assert first.seconds > 0


def test_tune_respects_n_candidates_and_leaf_floor(data):
    """Check that the first round has n_candidates forests, all with min_samples_leaf >= 10."""
    def run(seed: int):
        return models.tune(
            "random_forest", "regression", data["X"], data["y"], data["weights"], data["folds"],
            n_candidates=9, resource="model__n_estimators", max_resources=18, random_state=seed,
            numeric=NUMERIC, categorical=CATEGORICAL,
        )

    result = run(0)
    table = result.cv_results
    assert (table["iteration"] == 0).sum() == 9
    assert (table["min_samples_leaf"] >= 10).all()
    assert result.best_estimator.named_steps["model"].min_samples_leaf >= 10
    assert result.best_params == json.loads(table.loc[table["rank_test_score"].idxmin(), "params"])
    other = run(1).cv_results
    assert not other["params"].equals(table["params"])  # the seed matters


def test_search_spaces_keep_forest_leaves_large():
    """Check that 500 draws from the forest space all have min_samples_leaf >= 10."""
    draws = ParameterSampler(models.SEARCH_SPACES["random_forest"], n_iter=500, random_state=0)
    assert min(d["model__min_samples_leaf"] for d in draws) >= 10
    for name in models.TUNED:
        for task in models.TASKS:
            valid = models.make_model(name, task, NUMERIC, CATEGORICAL).get_params()
            assert set(models.SEARCH_SPACES[name]) <= set(valid)


def test_tune_rejects_untuned_model(data):
    """Check that tuning an untuned model raises ConfigError naming the tuned models."""
    with pytest.raises(ConfigError, match="random_forest, xgboost"):
        models.tune("ols", "regression", data["X"], data["y"], data["weights"], data["folds"])


# --------------------------------------------------------------------------------------------------
# Coefficients with replicate-weight standard errors
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "task"), [("ols", "regression"), ("logistic", "classification")])
def test_coefficient_table_se_matches_replicate_loop(data, name, task):
    """Check that coefficient SEs equal a plain loop refitting with each replicate weight."""
    y = data["y"] if task == "regression" else data["y_class"]
    pipeline = fit(name, task, data)
    table = models.coefficient_table(
        pipeline, data["X"], y, data["weights"], data["replicate_weights"]
    )
    Z = design(pipeline, data["X"])
    model = pipeline.named_steps["model"]
    full = np.concatenate([np.ravel(model.intercept_), np.ravel(model.coef_)])
    replicates = []
    for r in range(REPLICATES):
        refit = (LinearRegression() if name == "ols" else
                 LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-8, max_iter=1000))
        refit.fit(Z, y, sample_weight=data["replicate_weights"][:, r])
        replicates.append(np.concatenate([np.ravel(refit.intercept_), np.ravel(refit.coef_)]))
    expected = [loop_se(full[j], [b[j] for b in replicates]) for j in range(full.size)]
    estimated = table[table["kind"] != "reference"]
    assert list(estimated["term"]) == ["(intercept)", *design_names(pipeline)]
    np.testing.assert_allclose(estimated["coefficient"], full, rtol=1e-12)
    np.testing.assert_allclose(estimated["se"], expected, rtol=1e-6)
    np.testing.assert_allclose(estimated["moe90"], Z90 * np.asarray(expected), rtol=1e-6)
    assert (estimated["se"] > 0).all()
    references = table[table["kind"] == "reference"]
    assert set(references["term"]) == {"tenure_Missing", "education_BA"}
    assert (references["coefficient"] == 0).all()


def test_coefficient_table_flags_negative_replicate_weights(data):
    """Check that negative replicate weights give NaN SEs with the reason in the note."""
    pipeline = fit("ols", "regression", data)
    replicate_weights = data["replicate_weights"].astype(float)
    replicate_weights[0, 4] = -3.0
    table = models.coefficient_table(
        pipeline, data["X"], data["y"], data["weights"], replicate_weights
    )
    assert table["se"].isna().all()
    assert "replicate(s) 5" in table["note"].iloc[0]


def test_coefficient_table_flags_logistic_separation(data):
    """Check that a level whose households all share one outcome is flagged as separation."""
    y = data["y_class"].copy()
    grad = (data["X"]["education"] == "Grad").to_numpy()
    y[grad] = 0  # a frequent level, one outcome
    rare = (data["X"]["tenure"] == "Rare").to_numpy()
    y[np.flatnonzero(rare & ~grad)[:2]] = [0, 1]  # the rare level keeps both classes
    pipeline = models.fit_model(
        "logistic", "classification", data["X"], y, data["weights"],
        numeric=NUMERIC, categorical=CATEGORICAL,
    )
    table = models.coefficient_table(
        pipeline, data["X"], y, data["weights"], data["replicate_weights"]
    )
    flagged = table[table["note"].str.contains("separation")]
    assert list(flagged["term"]) == ["education_Grad"]


def test_coefficient_table_rejects_tree_model(data):
    """Check that asking a forest for coefficients raises ConfigError."""
    pipeline = fit("random_forest", "regression", data)
    with pytest.raises(ConfigError, match="ols or logistic"):
        models.coefficient_table(
            pipeline, data["X"], data["y"], data["weights"], data["replicate_weights"]
        )


# --------------------------------------------------------------------------------------------------
# Persistence and errors
# --------------------------------------------------------------------------------------------------


#: Every model kind, with small settings so the round trips run in seconds.
MODEL_KINDS = [(task, name) for task, names in models.MODELS.items() for name in names]
SMALL = {"random_forest": {"n_estimators": 20}, "xgboost": {"n_estimators": 30}, "mlp": {"epochs": 5},
         "folktables_gbm": {"n_estimators": 20}}


def fit_small(name: str, task: str, data: dict):
    """A fitted pipeline of any kind (folktables_gbm takes numeric codes only)."""
    y = data["y"] if task == "regression" else data["y_class"]
    categorical = [] if name == "folktables_gbm" else CATEGORICAL
    return models.fit_model(name, task, data["X"], y, data["weights"], params=SMALL.get(name),
                            numeric=NUMERIC, categorical=categorical)


def rewrite_member(path, member: str, edit) -> None:
    """Rewrite one member of a model file (a zip) with ``edit(bytes) -> bytes``."""
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    contents[member] = edit(contents[member])
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in contents.items():
            archive.writestr(name, content)


@pytest.mark.parametrize(("task", "name"), MODEL_KINDS)
def test_save_load_round_trip_predicts_identically(data, tmp_path, task, name):
    """Check that every model kind reloads from its skops file with bit-identical predictions."""
    pipeline = fit_small(name, task, data)
    path = models.save_model(pipeline, tmp_path / "models" / f"{name}.skops")
    loaded = models.load_model(path, within=tmp_path)
    np.testing.assert_array_equal(
        models.predict(loaded, task, data["X"]), models.predict(pipeline, task, data["X"])
    )
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{name}.skops"]  # no temp file left


def test_save_model_writes_no_pickle_and_xgboost_json(data, tmp_path):
    """Check that the file is a zip with a versioned header and the booster as XGBoost JSON."""
    pipeline = fit_small("xgboost", "regression", data)
    path = models.save_model(pipeline, tmp_path / "xgboost.skops")
    with zipfile.ZipFile(path) as archive:
        header = json.loads(archive.read("policyml.json"))
        booster_json = archive.read("xgboost/0.json")
        assert not [n for n in archive.namelist() if n.endswith((".pkl", ".pickle", ".joblib"))]
    assert (header["format"], header["version"]) == ("policyml-model", 2)
    assert header["sklearn"] == sklearn.__version__ and header["xgboost"] == xgboost.__version__
    assert "learner" in json.loads(booster_json)
    # the JSON alone, in a fresh XGBoost model, predicts what the pipeline predicts
    fresh = xgboost.XGBRegressor()
    fresh.load_model(bytearray(booster_json))
    design = pipeline.named_steps["preprocess"].transform(data["X"])
    np.testing.assert_array_equal(fresh.predict(design), pipeline.predict(data["X"]))


@pytest.mark.parametrize("name", ["random_forest", "xgboost", "mlp"])
def test_save_model_same_model_same_bytes(data, tmp_path, name):
    """Check that saving one fitted model twice writes byte-identical files."""
    pipeline = fit_small(name, "classification", data)
    first = models.save_model(pipeline, tmp_path / "first.skops").read_bytes()
    second = models.save_model(pipeline, tmp_path / "second.skops").read_bytes()
    assert first == second


def test_load_model_keeps_weight_requests(data, tmp_path):
    """Check that a reloaded pipeline still routes sample_weight to the model, not the scaler."""
    pipeline = fit_small("ols", "regression", data)
    loaded = models.load_model(models.save_model(pipeline, tmp_path / "ols.skops"))
    with sklearn.config_context(enable_metadata_routing=True):
        model_request = loaded.named_steps["model"].get_metadata_routing().fit.requests
        scaler = loaded.named_steps["preprocess"].named_transformers_["numeric"].named_steps["scale"]
        scaler_request = scaler.get_metadata_routing().fit.requests
        refit = sklearn.clone(loaded).fit(data["X"], data["y"], sample_weight=data["weights"])
    assert model_request["sample_weight"] is True and scaler_request["sample_weight"] is False
    direct = LinearRegression().fit(design(pipeline, data["X"])[:, pipeline.named_steps["drop_redundant"].keep_],
                                    data["y"], sample_weight=data["weights"])
    np.testing.assert_allclose(refit.named_steps["model"].coef_, direct.coef_, rtol=1e-8, atol=1e-10)


def test_load_model_refuses_untrusted_function(data, tmp_path):
    """Check that a file naming os.system as a transformer function is refused before anything runs."""
    path = models.save_model(fit_small("ols", "regression", data), tmp_path / "ols.skops")

    def to_system(schema: bytes) -> bytes:
        text = schema.decode()
        assert '"__class__": "_as_float", "__module__": "policyml.model.models"' in text
        return text.replace('"__class__": "_as_float", "__module__": "policyml.model.models"',
                            '"__class__": "system", "__module__": "os"').encode()

    rewrite_member(path, "schema.json", to_system)
    with pytest.raises(DataError, match=r"holds types policyml does not trust: os\.system") as error:
        models.load_model(path)
    assert "rerun the model step" in str(error.value)


class ForeignRegressor(RegressorMixin, BaseEstimator):
    """An estimator policyml does not know: constructing it from a file records the fact."""

    built: list = []

    def __setstate__(self, state):
        ForeignRegressor.built.append(state)
        self.__dict__.update(state)

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_load_model_refuses_untrusted_estimator(data, tmp_path):
    """Check that a model file holding an unknown estimator class is refused without building it."""
    pipeline = fit_small("dummy", "regression", data)
    foreign = ForeignRegressor().fit(data["X"], data["y"])
    pipeline.steps[-1] = ("model", foreign)
    path = models.save_model(pipeline, tmp_path / "foreign.skops")
    ForeignRegressor.built.clear()
    with pytest.raises(DataError, match="does not trust: .*ForeignRegressor"):
        models.load_model(path)
    assert ForeignRegressor.built == []


def test_load_model_refuses_truncated_and_corrupted_files(data, tmp_path):
    """Check that a truncated, a bit-flipped and a foreign file each give one clear DataError."""
    path = models.save_model(fit_small("random_forest", "regression", data), tmp_path / "rf.skops")
    content = path.read_bytes()
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match="is corrupted or truncated .*rerun the model step"):
        models.load_model(truncated)

    with zipfile.ZipFile(path) as archive:  # flip bytes inside the largest data member
        member = max(archive.infolist(), key=lambda info: info.compress_size)
        start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    damaged = bytearray(content)
    middle = start + member.compress_size // 2
    damaged[middle:middle + 8] = bytes(255 - b for b in damaged[middle:middle + 8])
    corrupted = tmp_path / "corrupted.skops"
    corrupted.write_bytes(bytes(damaged))
    with pytest.raises(DataError, match="is corrupted or truncated .*rerun the model step"):
        models.load_model(corrupted)

    pickle_file = tmp_path / "old.joblib"
    pickle_file.write_bytes(b"\x80\x04not a model")
    with pytest.raises(DataError, match="is not a policyml model file"):
        models.load_model(pickle_file)
    with pytest.raises(DataError, match="model file not found"):
        models.load_model(tmp_path / "absent.skops")


def test_load_model_refuses_other_format_version(data, tmp_path):
    """Check that a file of another format version names both versions."""
    path = models.save_model(fit_small("dummy", "regression", data), tmp_path / "dummy.skops")
    rewrite_member(path, "policyml.json",
                   lambda header: json.dumps({**json.loads(header), "version": 1}).encode())
    with pytest.raises(DataError, match="format version 1; this policyml reads version 2"):
        models.load_model(path)


def test_load_model_within_refuses_paths_outside_results(data, tmp_path):
    """Check that within= accepts files under the results folder and refuses escapes, also by symlink."""
    results = tmp_path / "run" / "results"
    inside = models.save_model(fit_small("dummy", "regression", data), results / "models" / "dummy.skops")
    outside = models.save_model(fit_small("dummy", "regression", data), tmp_path / "elsewhere.skops")
    assert models.load_model(inside, within=results) is not None
    with pytest.raises(DataError, match="outside the run's results folder"):
        models.load_model(outside, within=results)
    with pytest.raises(DataError, match="outside the run's results folder"):
        models.load_model(results / "models" / ".." / ".." / ".." / "elsewhere.skops", within=results)
    link = results / "models" / "linked.skops"
    link.symlink_to(outside)
    with pytest.raises(DataError, match="resolves to"):
        models.load_model(link, within=results)


def test_make_model_rejects_unknown_name():
    """Check that an unknown model name raises ConfigError naming the allowed models."""
    with pytest.raises(ConfigError) as error:
        models.make_model("lasso", "regression", NUMERIC, CATEGORICAL)
    for allowed in models.MODELS["regression"]:
        assert allowed in error.value.message
    with pytest.raises(ConfigError, match="dummy, logistic, random_forest, xgboost"):
        models.make_model("ols", "classification", NUMERIC, CATEGORICAL)


def test_make_model_rejects_unknown_task_and_parameter():
    """Check that an unknown task or estimator parameter raises ConfigError."""
    with pytest.raises(ConfigError, match="regression, classification"):
        models.make_model("ols", "ranking", NUMERIC, CATEGORICAL)
    with pytest.raises(ConfigError, match="max_dept"):
        models.make_model("random_forest", "regression", NUMERIC, CATEGORICAL,
                          params={"model__max_dept": 3})


def test_fit_model_rejects_missing_columns(data):
    """Check that a feature table without a listed column raises DataError naming it."""
    with pytest.raises(DataError, match="rooms"):
        models.fit_model(
            "ols", "regression", data["X"].drop(columns="rooms"), data["y"], data["weights"],
            numeric=NUMERIC, categorical=CATEGORICAL,
        )
    pipeline = fit("ols", "regression", data)
    with pytest.raises(DataError, match="tenure"):
        models.predict(pipeline, "regression", data["X"].drop(columns="tenure"))


def test_fit_model_rejects_bad_weights_and_labels(data):
    """Check that negative weights and a non-0/1 classification target raise DataError."""
    weights = data["weights"].astype(float)
    weights[3] = -1
    with pytest.raises(DataError, match="non-negative"):
        models.fit_model("ols", "regression", data["X"], data["y"], weights,
                         numeric=NUMERIC, categorical=CATEGORICAL)
    with pytest.raises(DataError, match="0/1"):
        models.fit_model("logistic", "classification", data["X"], data["y_class"] + 1,
                         data["weights"], numeric=NUMERIC, categorical=CATEGORICAL)


def test_infer_columns_splits_by_dtype(data):
    """Check that numeric and category/str columns are told apart."""
    numeric, categorical = models.infer_columns(data["X"].drop(columns="household_id"))
    assert numeric == NUMERIC and categorical == CATEGORICAL


def test_drop_redundant_columns_drops_linear_combinations():
    """Check that constant, duplicated and linearly dependent columns go, and the intercept counts."""
    from policyml.model.models import DropRedundantColumns

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    X = np.column_stack([a, b, a + 2 * b, np.full(50, 3.0), a, -a])
    assert DropRedundantColumns().fit(X).keep_.tolist() == [True, True, False, False, False, False]
    level = rng.integers(0, 3, size=50)
    dummies = np.column_stack([level == k for k in range(3)]).astype(float)  # sum to one
    assert DropRedundantColumns().fit(dummies).keep_.tolist() == [True, True, True]
    assert DropRedundantColumns(intercept=True).fit(dummies).keep_.tolist() == [True, True, False]
