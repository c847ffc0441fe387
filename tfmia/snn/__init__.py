"""Spiking neural networks: neurons and surrogates (`neurons`), the layers
of directly trained SNNs (`direct`), and conversion from Keras ANNs.

    from tfmia import snn
    spiking = snn.convert(ann, calibration_data=x, timesteps=4,
                          thresholds="data_driven")   # a keras.Model
    spiking.predict(x)                    # logits: mean over T of the output
    # fine-tuning a converted SNN: tfmia.training.calibration.calibrate
    snn.convert_with_snntoolbox(ann, x_norm=x, timesteps=64)
    layered = snn.as_spiking_layers(spiking)  # tfmia.snn.direct's layers: the
                                              # model kind of direct training

`tfmia.snn.snntoolbox_adapter` is imported only when used.
"""

from tfmia.snn.convert import (ann_macs,
                               convert,
                               fold_batchnorm,
                               load,
                               save,
                               simulate,
                               with_settings,
                               with_timesteps)
from tfmia.snn.graph import UnsupportedLayerError, as_functional, parse
from tfmia.snn.layers import as_spiking_layers
from tfmia.snn.network import (SURROGATES,
                               SimulationResult,
                               SpikingNetwork,
                               network_of,
                               surrogate_gradient)
from tfmia.snn.thresholds import fit_one_level_quantizer, percentile_threshold


def convert_with_snntoolbox(*args, **kwargs):
  """See `tfmia.snn.snntoolbox_adapter.convert_with_snntoolbox`."""
  from tfmia.snn import snntoolbox_adapter
  return snntoolbox_adapter.convert_with_snntoolbox(*args, **kwargs)


__all__ = ["SURROGATES", "SimulationResult",
           "SpikingNetwork", "UnsupportedLayerError", "ann_macs",
           "as_functional", "as_spiking_layers", "convert", "convert_with_snntoolbox", "fold_batchnorm",
           "fit_one_level_quantizer", "load", "network_of", "parse",
           "percentile_threshold", "save", "simulate", "surrogate_gradient",
           "with_settings", "with_timesteps"]
