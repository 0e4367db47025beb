"""Adam as Keras computes it, applied with one fused TensorFlow kernel per variable.

Keras 3's Adam updates every variable with about fifteen small ops (the bias corrections computed again for
each variable, then the moments and the step as separate elementwise passes): some 600 ops a step for the
encoder and a head, each traced, optimised and dispatched. TensorFlow's ``ResourceApplyAdam`` does the same
update in one op: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= lr sqrt(1 - b2^t)/(1 - b1^t) m/(sqrt(v) + eps).
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="astromer")
class Adam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (same variables, state and configuration; a resume state of one loads into the
    other) whose update runs as ``ResourceApplyAdam``. Keras's own update runs where that kernel does not
    apply: AMSGrad, a distribution strategy, betas given as callables."""

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if self.amsgrad or tf.distribute.has_strategy() or callable(self.beta_1) or callable(self.beta_2):
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        step = tf.cast(self.iterations + 1, tf.float32)
        scalars = {}  # per dtype: the bias-corrected powers and hyperparameters, computed once a step
        for grad, variable in zip(grads, trainable_variables):
            grad = tf.convert_to_tensor(grad)  # an IndexedSlices gradient applies densely, as Keras's does
            dtype = variable.dtype
            if grad.dtype != dtype:
                grad = tf.cast(grad, dtype)
            if dtype not in scalars:
                scalars[dtype] = {
                    "beta1_power": tf.cast(tf.pow(tf.constant(self.beta_1, tf.float32), step), dtype),
                    "beta2_power": tf.cast(tf.pow(tf.constant(self.beta_2, tf.float32), step), dtype),
                    "lr": tf.cast(learning_rate, dtype),
                    "beta1": tf.constant(self.beta_1, dtype),
                    "beta2": tf.constant(self.beta_2, dtype),
                    "epsilon": tf.constant(self.epsilon, dtype),
                }
            index = self._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=_handle(variable),
                m=_handle(self._momentums[index]),
                v=_handle(self._velocities[index]),
                grad=grad,
                use_locking=False,
                **scalars[dtype],
            )


def _handle(variable):
    """The resource handle of a Keras variable (its tf.Variable) or of a tf.Variable."""
    return getattr(variable, "value", variable).handle
