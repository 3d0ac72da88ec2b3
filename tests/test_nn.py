"""Tests for policyml.nn: gradients against finite differences, the lecture's worked numbers, exact
equivalences with closed forms and scikit-learn, optimisers, schedules, training and estimators."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from policyml.core.errors import ConfigError, DataError
from policyml.nn import (
    SGD,
    Adam,
    BinaryLogLoss,
    Constant,
    CosineWarmRestarts,
    Dense,
    History,
    Identity,
    L2Penalty,
    LinearRegressionGD,
    LogisticRegressionGD,
    MLPClassifier,
    MLPRegressor,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    StepDecay,
    Tanh,
    clip_grad_norm,
    cost_per_example,
    fit,
    grad_norm,
)

#: Central differences in float64 with step H agree with the analytic gradients to RTOL (ATOL for
#: entries that are ~0); truncation error is O(H^2) ~ 1e-12 and rounding O(eps / H) ~ 1e-10.
H = 1e-6
RTOL = 1e-6
ATOL = 1e-9


def numerical_grad(f, array: np.ndarray) -> np.ndarray:
    """d f() / d array by central differences, perturbing ``array`` in place."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + H
        up = f()
        flat[i] = old - H
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * H)
    return grad


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------------
# Gradient checks
# --------------------------------------------------------------------------------------------------


def test_dense_gradients_match_finite_differences():
    """Check that Dense.backward gives dL/dW, dL/db and dL/dx equal to central differences."""
    r = rng(1)
    layer = Dense(4, 3, rng=r, dtype="float64")
    x = r.normal(size=(5, 4))
    upstream = r.normal(size=(5, 3))  # L = sum(out * upstream), so dL/dout = upstream

    def loss():
        return float(np.sum(layer.forward(x) * upstream))

    loss()
    layer.zero_grad()
    grad_x = layer.backward(upstream)
    np.testing.assert_allclose(layer.W.grad, numerical_grad(loss, layer.W.value), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.b.grad, numerical_grad(loss, layer.b.value), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad_x, numerical_grad(loss, x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("activation", [Sigmoid, Tanh, ReLU, Identity])
def test_activation_gradients_match_finite_differences(activation):
    """Check that each activation's backward equals central differences of its forward."""
    r = rng(2)
    layer = activation()
    x = r.normal(size=(6, 3))
    x[np.abs(x) < 0.1] = 0.5  # keep ReLU away from its kink
    upstream = r.normal(size=(6, 3))

    def loss():
        return float(np.sum(layer.forward(x) * upstream))

    loss()
    np.testing.assert_allclose(layer.backward(upstream), numerical_grad(loss, x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss_class", [MSELoss, BinaryLogLoss])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_loss_gradients_match_finite_differences(loss_class, weighted, n_outputs):
    """Check that both losses' gradients wrt predictions equal central differences, with and
    without survey weights, for one and two output columns."""
    r = rng(3)
    loss = loss_class()
    pred = r.normal(scale=3.0, size=(7, n_outputs))
    target = r.normal(size=(7, n_outputs)) if loss_class is MSELoss else r.integers(0, 2, (7, n_outputs))
    if n_outputs == 1:
        target = target[:, 0]  # (n,) targets are read as one column
    w = r.uniform(0.5, 40.0, 7) if weighted else None

    def value():
        return loss.forward(pred, target, w)

    value()
    np.testing.assert_allclose(loss.backward(), numerical_grad(value, pred), rtol=RTOL, atol=ATOL)


def test_loss_values_are_weighted_means_of_example_losses():
    """Check that each loss equals sum w_i l_i / sum w_i of the textbook per-example losses, is
    unchanged when all weights are scaled, and ignores zero-weight rows."""
    r = rng(4)
    z = r.normal(scale=3.0, size=(8, 1))
    y = r.integers(0, 2, 8).astype(float)
    t = r.normal(size=8)
    w = r.uniform(0.5, 5.0, 8)
    p = 1 / (1 + np.exp(-z[:, 0]))
    log_losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert BinaryLogLoss().forward(z, y, w) == pytest.approx(np.sum(w * log_losses) / w.sum(), rel=1e-12)
    assert BinaryLogLoss().forward(z, y) == pytest.approx(log_losses.mean(), rel=1e-12)
    assert MSELoss().forward(z, t, w) == pytest.approx(np.sum(w * (z[:, 0] - t) ** 2) / w.sum(), rel=1e-12)
    assert MSELoss().forward(z, t, 250.0 * w) == pytest.approx(MSELoss().forward(z, t, w), rel=1e-12)
    w0 = w.copy()
    w0[:3] = 0.0
    assert MSELoss().forward(z, t, w0) == pytest.approx(MSELoss().forward(z[3:], t[3:], w[3:]), rel=1e-12)


def test_binary_log_loss_is_finite_for_extreme_logits():
    """Check that the log-loss on logits of +-1000 is finite (no overflow warning) and correct."""
    z = np.array([[1000.0], [-1000.0], [1000.0]])
    loss = BinaryLogLoss()
    assert loss.forward(z, np.array([1.0, 0.0, 0.0])) == pytest.approx(1000.0 / 3)
    np.testing.assert_allclose(loss.backward()[:, 0], [0.0, 0.0, 1 / 3])


def make_network(r: np.random.Generator) -> Sequential:
    return Sequential(
        Dense(4, 5, rng=r, dtype="float64"),
        Tanh(),
        Dense(5, 3, rng=r, dtype="float64"),
        Sigmoid(),
        Dense(3, 1, rng=r, dtype="float64"),
    )


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_network_gradients_match_finite_differences(l2):
    """Check that backpropagation through a 2-hidden-layer network with a weighted MSE (plus the
    L2 penalty 0.5 * l2 * sum W^2 on weights only) matches central differences for every parameter."""
    r = rng(5)
    net = make_network(r)
    x, y, w = r.normal(size=(9, 4)), r.normal(size=9), r.uniform(1, 10, 9)
    loss, penalty = MSELoss(), L2Penalty(l2)

    def objective():
        return loss.forward(net.forward(x), y, w) + penalty.forward(net.parameters())

    objective()
    net.zero_grad()
    net.backward(loss.backward())
    penalty.backward(net.parameters())
    for p in net.parameters():
        np.testing.assert_allclose(p.grad, numerical_grad(objective, p.value), rtol=RTOL, atol=ATOL)


def test_l2_penalty_applies_to_weights_not_biases():
    """Check that L2Penalty adds l2 * W to weight gradients, leaves bias gradients alone, and
    sums 0.5 * l2 * ||W||^2."""
    layer = Dense(2, 2, rng=rng(6), dtype="float64")
    layer.b.value[:] = 5.0
    penalty = L2Penalty(0.1)
    assert penalty.forward(layer.parameters()) == pytest.approx(0.05 * np.sum(layer.W.value**2))
    penalty.backward(layer.parameters())
    np.testing.assert_allclose(layer.W.grad, 0.1 * layer.W.value)
    assert not layer.b.grad.any()


# --------------------------------------------------------------------------------------------------
# The lecture's worked numbers
# --------------------------------------------------------------------------------------------------


def test_neuron_reproduces_lecture_calculation():
    """Check that the lecture's neuron (weights 0.36, 0.48, 0.42, bias 0.10, inputs 1, 2, 3) sums
    to 2.68, not the slide's 2.67, and that its sigmoid output rounds to 0.94."""
    neuron = Dense(3, 1, rng=rng(), dtype="float64")
    neuron.W.value[:, 0] = [0.36, 0.48, 0.42]
    neuron.b.value[:] = 0.10
    pre = neuron.forward(np.array([[1.0, 2.0, 3.0]]))[0, 0]
    assert pre == pytest.approx(2.68, abs=1e-12)
    assert pre != pytest.approx(2.67, abs=1e-3)
    out = Sigmoid().forward(np.array([pre]))[0]
    assert round(out, 2) == 0.94
    assert out == pytest.approx(0.9358, abs=5e-5)


def test_sequential_counts_lecture_parameters():
    """Check that the lecture's 5-input, 5-hidden, 1-output network has 30 + 6 = 36 parameters."""
    net = Sequential(Dense(5, 5, rng=rng()), Sigmoid(), Dense(5, 1, rng=rng()))
    assert net.n_parameters() == 36
    assert [layer.n_parameters() for layer in net] == [30, 0, 6]
    text = repr(net)
    assert "Dense(5 -> 5" in text and "30 parameters" in text and "Sigmoid()" in text
    assert text.rstrip().endswith("36 parameters")


def test_cost_per_example_counts_lecture_network():
    """Check that the forward pass of the 5-5-1 network costs one operation per parameter (36) and
    the backward pass 36 plus the 5 multiply-adds passing the gradient to the hidden layer."""
    net = Sequential(Dense(5, 5, rng=rng()), Sigmoid(), Dense(5, 1, rng=rng()))
    cost = cost_per_example(net)
    assert cost == {"parameters": 36, "forward": 36, "backward": 41, "activations": 5, "total": 77}


# --------------------------------------------------------------------------------------------------
# Equivalences with closed forms and scikit-learn
# --------------------------------------------------------------------------------------------------


def standardised_data(seed: int = 1, n: int = 500):
    r = rng(seed)
    X = r.normal(size=(n, 5)) @ np.linalg.cholesky(0.5 * np.eye(5) + 0.5).T  # correlated features
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    w = r.uniform(0.5, 5.0, n)
    return r, X, w


def test_linear_regression_gd_matches_weighted_least_squares():
    """Check that full-batch LinearRegressionGD (float64, momentum 0.9, 400 epochs) on standardised
    data with sample weights matches closed-form weighted least squares to 1e-8 (1e-4 takes 200)."""
    r, X, w = standardised_data()
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 4.0 + r.normal(size=len(X))
    design = np.column_stack([np.ones(len(X)), X]) * np.sqrt(w)[:, None]
    exact = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)[0]
    model = LinearRegressionGD(dtype="float64", epochs=400, learning_rate=0.1, momentum=0.9)
    model.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, exact[1:], rtol=0, atol=1e-8)
    assert model.intercept_ == pytest.approx(exact[0], abs=1e-8)


def test_logistic_regression_gd_matches_sklearn_unpenalised():
    """Check that full-batch LogisticRegressionGD (float64, 500 epochs) with sample weights matches
    scikit-learn's unpenalised weighted LogisticRegression to 1e-8 (it reaches ~2e-12; 1e-4 takes
    200 epochs)."""
    r, X, w = standardised_data(seed=2)
    p = 1 / (1 + np.exp(-(X @ np.array([0.5, -1.0, 0.25, 0.0, 1.5]) - 0.5)))
    y = (r.random(len(X)) < p).astype(int)
    reference = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    reference.fit(X, y, sample_weight=w)
    model = LogisticRegressionGD(dtype="float64", epochs=500, learning_rate=1.0, momentum=0.9)
    model.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, reference.coef_[0], rtol=0, atol=1e-8)
    assert model.intercept_ == pytest.approx(reference.intercept_[0], abs=1e-8)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-8)


def test_sample_weights_equal_row_duplication_full_batch():
    """Check that integer sample weights give the same full-batch fit as duplicating rows."""
    r, X, _ = standardised_data(seed=3, n=60)
    y = X[:, 0] - X[:, 1] + r.normal(size=60)
    counts = r.integers(1, 4, 60)
    kwargs = dict(dtype="float64", epochs=50, learning_rate=0.05)
    weighted = LinearRegressionGD(**kwargs).fit(X, y, sample_weight=counts)
    duplicated = LinearRegressionGD(**kwargs).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, duplicated.coef_, rtol=1e-10)


# --------------------------------------------------------------------------------------------------
# Optimisers, schedules, clipping
# --------------------------------------------------------------------------------------------------


def quadratic_losses(make_optimizer, steps: int = 300) -> np.ndarray:
    """Losses f(w) - f* of a convex quadratic 0.5 w'Aw - b'w (eigenvalues 0.5..4) over the steps."""
    r = rng(7)
    Q = np.linalg.qr(r.normal(size=(4, 4)))[0]
    A = Q @ np.diag([0.5, 1.0, 2.0, 4.0]) @ Q.T
    b = r.normal(size=4)
    f_min = -0.5 * b @ np.linalg.solve(A, b)
    p = Parameter(np.full(4, 3.0), "w")
    optimizer = make_optimizer([p])
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(0.5 * p.value @ A @ p.value - b @ p.value - f_min)
        p.grad += A @ p.value - b
        optimizer.step()
    return np.array(losses)


@pytest.mark.parametrize(
    ("make", "reduction"),
    [
        (lambda ps: SGD(ps, lr=0.005, momentum=0.9), 1e-8),
        (lambda ps: Adam(ps, lr=0.03), 1e-2),
    ],
    ids=["sgd_momentum", "adam"],
)
def test_optimizer_reduces_quadratic_monotonically(make, reduction):
    """Check that SGD with momentum and Adam lower a convex quadratic at every one of 300 steps."""
    losses = quadratic_losses(make)
    assert np.all(np.diff(losses) < 0)
    assert losses[-1] < reduction * losses[0]


def test_sgd_step_is_lecture_update():
    """Check that plain SGD computes NEW w = OLD w - lr * dL/dw exactly."""
    p = Parameter(np.array([1.0, -2.0]))
    p.grad[:] = [0.5, 4.0]
    SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.value, [1.0 - 0.05, -2.0 - 0.4])


def test_step_decay_halves_at_each_step():
    """Check that StepDecay(step_size=3, gamma=0.5) keeps the rate for 3 epochs, then halves it."""
    schedule = StepDecay(step_size=3, gamma=0.5, lr=0.1)
    assert [schedule.lr_at(e) for e in range(8)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    )
    assert Constant(0.3).lr_at(99) == 0.3


def test_cosine_warm_restarts_decays_then_restarts():
    """Check that CosineWarmRestarts falls within each cycle and jumps back to lr at T_0,
    T_0 * (1 + T_mult), ... (epochs 4, 12, 28 for T_0=4, T_mult=2)."""
    schedule = CosineWarmRestarts(T_0=4, T_mult=2, eta_min=0.01, lr=1.0)
    rates = np.array([schedule.lr_at(e) for e in range(40)])
    restarts = [0, 4, 12, 28]
    assert np.all(rates[restarts] == 1.0)
    rises = [e for e in range(1, 40) if rates[e] > rates[e - 1]]
    assert rises == restarts[1:]
    assert schedule.lr_at(2) == pytest.approx(0.01 + 0.99 * 0.5)  # half-way through the first cycle
    assert rates.min() > 0.01
    assert [CosineWarmRestarts(T_0=3, lr=1.0).cycle(e) for e in (0, 3, 7)] == [(0, 3), (0, 3), (1, 3)]


def test_schedule_without_rate_takes_optimizer_rate():
    """Check that fit fills a schedule's missing lr from the optimiser and records the rates."""
    r = rng(8)
    net = Sequential(Dense(2, 1, rng=r))
    X, y = r.normal(size=(20, 2)), r.normal(size=20)
    history = fit(net, MSELoss(), SGD(net.parameters(), lr=0.08), X, y, epochs=5, batch_size=8,
                  schedule=StepDecay(step_size=2), rng=r)
    assert history.lr == pytest.approx([0.08, 0.08, 0.04, 0.04, 0.02])
    with pytest.raises(ConfigError, match="no starting learning rate"):
        StepDecay(step_size=2).lr_at(0)


def test_clip_grad_norm_scales_global_norm_exactly():
    """Check that clip_grad_norm scales all gradients to global norm max_norm, keeping their
    direction, returns the norm before clipping, and leaves gradients within the bound alone."""
    a, b = Parameter(np.zeros((2, 2))), Parameter(np.zeros(3))
    a.grad[:] = [[3.0, 0.0], [0.0, 4.0]]
    b.grad[:] = [0.0, 12.0, 0.0]  # global norm sqrt(9 + 16 + 144) = 13
    before = np.concatenate([a.grad.ravel(), b.grad])
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(13.0)
    assert grad_norm([a, b]) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(np.concatenate([a.grad.ravel(), b.grad]), before / 13.0, rtol=1e-15)
    small = a.grad.copy()
    assert clip_grad_norm([a], 5.0) == pytest.approx(np.linalg.norm(small))
    np.testing.assert_array_equal(a.grad, small)


# --------------------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------------------


def test_fit_is_deterministic_given_seed():
    """Check that the same random_state gives identical weights and losses, another seed differs."""
    r = rng(9)
    X, y = r.normal(size=(300, 3)), r.normal(size=300)
    kwargs = dict(hidden_layer_sizes=(8,), epochs=15, batch_size=32)
    first = MLPRegressor(random_state=1, **kwargs).fit(X, y)
    again = MLPRegressor(random_state=1, **kwargs).fit(X, y)
    other = MLPRegressor(random_state=2, **kwargs).fit(X, y)
    for p, q in zip(first.model_.parameters(), again.model_.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert first.history_.train_loss == again.history_.train_loss
    assert first.history_.val_loss == again.history_.val_loss
    assert not np.array_equal(first.model_[0].W.value, other.model_[0].W.value)
    assert first.history_.train_loss != other.history_.train_loss


def test_early_stopping_restores_best_validation_epoch():
    """Check that early stopping halts once the validation loss rises and restores the parameters
    of the best validation epoch: training fits y = 2x from w = 0 while validation wants y = x, so
    the validation loss falls until w passes 1 and rises after."""
    r = rng(10)
    net = Sequential(Dense(1, 1, rng=r, dtype="float64"))
    net[0].W.value[:] = 0.0
    net[0].b.value[:] = 0.0
    x = r.normal(size=(200, 1))
    history = fit(net, MSELoss(), SGD(net.parameters(), lr=0.02), x, 2 * x[:, 0], epochs=200,
                  batch_size=50, rng=r, X_val=x, y_val=x[:, 0], early_stopping_patience=3)
    val = np.array(history.val_loss)
    assert history.stopped_early and history.n_epochs < 200
    assert history.best_epoch == int(np.argmin(val)) and history.best_epoch == history.n_epochs - 4
    assert val[-1] > val[history.best_epoch]
    assert MSELoss().forward(net.forward(x), x[:, 0]) == val[history.best_epoch]
    assert 0.5 < net[0].W.value[0, 0] < 1.5


def test_history_to_frame_has_one_row_per_epoch():
    """Check that History.to_frame has epoch, losses, lr and seconds for every epoch, NaN
    validation loss without validation data, and that the training loss goes down."""
    r = rng(11)
    net = Sequential(Dense(3, 4, rng=r), ReLU(), Dense(4, 1, rng=r))
    X = r.normal(size=(100, 3)).astype(np.float32)
    history = fit(net, MSELoss(), Adam(net.parameters(), lr=1e-2), X, X.sum(axis=1), epochs=6,
                  batch_size=16, rng=r)
    frame = history.to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss", "lr", "seconds"]
    assert len(frame) == 6 and frame["val_loss"].isna().all() and history.best_epoch == 5
    assert frame["train_loss"].iloc[-1] < frame["train_loss"].iloc[0]
    assert isinstance(History(), History) and History().n_epochs == 0


# --------------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------------


def test_mlp_regressor_learns_nonlinear_function():
    """Check that MLPRegressor (behind a StandardScaler) fits y = sin(3x) on 2,000 points with at
    most a hundredth of LinearRegressionGD's test MSE, with float32 parameters by default."""
    r = rng(12)
    x, x_test = r.uniform(-1, 1, (2000, 1)), r.uniform(-1, 1, (1000, 1))
    y, y_test = np.sin(3 * x[:, 0]), np.sin(3 * x_test[:, 0])
    mlp = make_pipeline(StandardScaler(), MLPRegressor(epochs=100)).fit(x, y)
    linear = make_pipeline(StandardScaler(), LinearRegressionGD()).fit(x, y)
    mse_mlp = np.mean((mlp.predict(x_test) - y_test) ** 2)
    mse_linear = np.mean((linear.predict(x_test) - y_test) ** 2)
    assert mse_mlp < mse_linear / 100
    assert mse_mlp < 0.01
    assert all(p.value.dtype == np.float32 for p in mlp[-1].model_.parameters())
    assert mlp.predict(x_test).dtype == np.float64 and mlp.predict(x_test).shape == (1000,)


def test_mlp_classifier_separates_xor():
    """Check that MLPClassifier separates XOR-like data (accuracy > 0.95 on new points), keeps the
    original labels, and gives probabilities that sum to one."""
    r = rng(13)
    X, X_test = r.uniform(-1, 1, (2000, 2)), r.uniform(-1, 1, (1000, 2))
    labels = np.array(["different", "same"])
    y, y_test = labels[(X[:, 0] * X[:, 1] > 0).astype(int)], labels[(X_test[:, 0] * X_test[:, 1] > 0).astype(int)]
    model = make_pipeline(StandardScaler(), MLPClassifier(learning_rate=1e-2)).fit(X, y)
    assert (model.predict(X_test) == y_test).mean() > 0.95
    assert list(model.classes_) == ["different", "same"]
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X_test), labels[(proba[:, 1] >= 0.5).astype(int)])


def test_estimator_works_in_pipeline_with_routed_weights():
    """Check that a Pipeline routes sample_weight to the estimator via set_fit_request, that
    get_params/set_params/clone work, and that a fitted estimator pickles without batch caches."""
    r = rng(14)
    X, y, w = r.normal(size=(200, 3)), r.normal(size=200), r.uniform(1, 50, 200)
    estimator = MLPRegressor(hidden_layer_sizes=(4,), epochs=3, early_stopping=False)
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=False)  # unweighted scaling
        pipe = make_pipeline(scaler, estimator.set_fit_request(sample_weight=True))
        pipe.fit(X, y, sample_weight=w)
    direct = clone(estimator).fit(StandardScaler().fit_transform(X), y, sample_weight=w)
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(StandardScaler().fit_transform(X)))
    pipe.set_params(mlpregressor__hidden_layer_sizes=(6, 2))
    assert pipe.get_params()["mlpregressor__hidden_layer_sizes"] == (6, 2)
    assert clone(pipe).fit(X, y).named_steps["mlpregressor"].n_parameters_ == 4 * 6 + 7 * 2 + 3
    restored = pickle.loads(pickle.dumps(direct))
    assert restored.model_[0]._x is None
    np.testing.assert_array_equal(restored.predict(X), direct.predict(X))


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def test_estimator_rejects_unknown_activation():
    """Check that an unknown activation is a ConfigError naming the value and the options."""
    with pytest.raises(ConfigError) as info:
        MLPRegressor(activation="softmax").fit(np.zeros((10, 2)), np.zeros(10))
    assert info.value.message == "activation='softmax' is not one of 'relu', 'tanh', 'sigmoid', 'identity'"
    assert "relu" in info.value.hint


def test_estimator_rejects_zero_batch_size():
    """Check that batch_size=0 is a ConfigError saying it must be at least 1."""
    with pytest.raises(ConfigError, match=r"batch_size=0 must be >= 1"):
        MLPClassifier(batch_size=0).fit(np.zeros((10, 2)), np.arange(10) % 2)


def test_estimator_rejects_bad_hidden_layer_sizes_with_cause():
    """Check that a non-iterable hidden_layer_sizes is a ConfigError chained to the TypeError."""
    with pytest.raises(ConfigError, match="must be a tuple of positive integers") as info:
        MLPRegressor(hidden_layer_sizes=2.5).fit(np.zeros((10, 2)), np.zeros(10))
    assert isinstance(info.value.__cause__, TypeError)


def test_fit_rejects_mismatched_rows():
    """Check that X and y of different lengths are a DataError giving both counts."""
    with pytest.raises(DataError, match="X has 10 rows but y has 9"):
        LinearRegressionGD().fit(np.zeros((10, 2)), np.zeros(9))


def test_fit_rejects_nan_in_x():
    """Check that NaN in X is a DataError saying so, with a hint to impute."""
    X = np.zeros((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(DataError, match="X contains NaN or infinite values") as info:
        MLPRegressor().fit(X, np.zeros(10))
    assert "impute" in info.value.hint


def test_fit_rejects_non_numeric_x_with_cause():
    """Check that text in X is a DataError chained to numpy's ValueError."""
    with pytest.raises(DataError, match="X must be numeric") as info:
        LinearRegressionGD().fit(np.array([["a", "b"], ["c", "d"]]), np.zeros(2))
    assert isinstance(info.value.__cause__, ValueError)


def test_classifier_rejects_single_class():
    """Check that a classifier given one class is a DataError saying it needs exactly 2."""
    with pytest.raises(DataError, match=r"1 distinct class\(es\) \(1\); this classifier needs exactly 2"):
        LogisticRegressionGD().fit(np.zeros((5, 2)), np.ones(5, dtype=int))


def test_estimator_rejects_unknown_dtype_and_schedule():
    """Check that an unsupported dtype and an unknown schedule name are ConfigErrors listing the
    options."""
    with pytest.raises(ConfigError, match=r"dtype='float16' is not one of 'float32', 'float64'"):
        MLPRegressor(dtype="float16").fit(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(ConfigError, match=r"schedule='linear' is not one of 'constant', 'step', 'cosine'"):
        MLPRegressor(schedule="linear").fit(np.zeros((10, 2)), np.zeros(10))


def test_predict_rejects_wrong_feature_count():
    """Check that predicting with a different number of columns than in fit is a DataError."""
    model = LinearRegressionGD(epochs=2).fit(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(DataError, match="X has 3 features but the model was fitted on 2"):
        model.predict(np.zeros((4, 3)))
    assert math.isfinite(model.intercept_)
