"""Model builders (`zoo`: the registry and tfmia's builders) and the one
interface every model kind is queried through (`tfmia.models.adapter`).

    from tfmia import models
    model = models.build_model("conv", (32, 32, 3), 10)

    @models.register("mymlp")
    def mymlp(input_shape, num_classes, *, width=64): ...
"""

from tfmia.models.zoo import (POOLINGS, available_models, build_model,
                              check_kwargs, cifarnet, conv, dense, get_builder,
                              load_saved_model, miafc, options, register,
                              resnet18, resnet20, sew_resnet, spiking_vgg,
                              spiking_vgg_ann, vgg11, vgg16, wrn)

__all__ = ["POOLINGS", "available_models", "build_model", "check_kwargs",
           "cifarnet", "conv", "dense", "get_builder", "load_saved_model",
           "miafc", "options", "register", "resnet18", "resnet20", "sew_resnet", "spiking_vgg",
           "spiking_vgg_ann", "vgg11", "vgg16", "wrn"]
