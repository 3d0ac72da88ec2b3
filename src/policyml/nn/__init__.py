"""The project's own neural-network core: gradient descent in NumPy, small enough to read.

In the style of karpathy/micrograd's ``nn.py`` (a tiny module contract: ``parameters()``,
``zero_grad()``, each layer's forward and backward side by side), but vectorised over mini-batches
with matrix products. Randomness only from a passed ``np.random.Generator``; float32 by default.

Where each idea of the lecture ("Walk through + Neural Networks") lives:

=================================================  ===============================================
Lecture                                            Code
=================================================  ===============================================
neuron: weighted sum of inputs plus a bias         :class:`Dense` (``x @ W + b``, one column per
                                                   neuron)
weights and biases (the parameters)                :class:`Parameter` (value + grad),
                                                   ``Sequential.parameters()``, ``n_parameters()``
activation functions (non-linearity)               :class:`Sigmoid`, :class:`Tanh`, :class:`ReLU`,
                                                   :class:`Identity`
forward pass                                       ``forward`` of each layer and of
                                                   :class:`Sequential`
loss (MSE; log-loss for classification)            :class:`MSELoss`, :class:`BinaryLogLoss`
                                                   (weighted by survey weights)
backpropagation, dL/dw                             ``backward`` of each layer, run in reverse by
                                                   ``Sequential.backward``
gradient descent, ``w -= lr * dL/dw``              :class:`SGD` (plus momentum), :class:`Adam`
"data MUST be scaled"                              the estimators expect a StandardScaler in front
                                                   (Pipeline); they do not scale
batch size (many calculations in parallel)         ``fit(..., batch_size=...)``: one matrix product
                                                   per layer per batch
keep gradients in a reasonable range               :func:`clip_grad_norm`; ``l2`` penalty;
                                                   ``init`` (``"pytorch"``, ``"he"``, ``"xavier"``)
larger steps earlier, then smaller, then larger    :class:`Constant`, :class:`StepDecay`,
                                                   :class:`CosineWarmRestarts`
stochastic updates (random batches)                rows reshuffled with ``rng`` every epoch in
                                                   :func:`fit`
"how many calculations?"                           :func:`cost_per_example`
=================================================  ===============================================

The worked neuron of the lecture: weights (0.36, 0.48, 0.42), bias 0.10, inputs (1, 2, 3) give the
pre-activation 0.36 + 0.96 + 1.26 + 0.10 = 2.68 (the slide's 2.67 is an arithmetic slip) and
sigmoid(2.68) = 0.936, i.e. 0.94.

Modules: :mod:`.layers`, :mod:`.losses`, :mod:`.optim`, :mod:`.train` (the loop and
:class:`History`), :mod:`.estimators` (scikit-learn-style :class:`MLPRegressor`,
:class:`MLPClassifier`, :class:`LinearRegressionGD`, :class:`LogisticRegressionGD`).
"""

from .estimators import (
    LinearRegressionGD,
    LogisticRegressionGD,
    MLPClassifier,
    MLPRegressor,
    cost_per_example,
)
from .layers import (
    ACTIVATIONS,
    Dense,
    Identity,
    Module,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    sigmoid,
)
from .losses import BinaryLogLoss, L2Penalty, MSELoss
from .optim import SGD, Adam, Constant, CosineWarmRestarts, Schedule, StepDecay, clip_grad_norm, grad_norm
from .train import History, fit

__all__ = [
    "ACTIVATIONS",
    "Adam",
    "BinaryLogLoss",
    "Constant",
    "CosineWarmRestarts",
    "Dense",
    "History",
    "Identity",
    "L2Penalty",
    "LinearRegressionGD",
    "LogisticRegressionGD",
    "MLPClassifier",
    "MLPRegressor",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "SGD",
    "Schedule",
    "Sequential",
    "Sigmoid",
    "StepDecay",
    "Tanh",
    "clip_grad_norm",
    "cost_per_example",
    "fit",
    "grad_norm",
    "sigmoid",
]
