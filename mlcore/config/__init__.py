"""The config: YAML + `--set` overrides (load.py) validated into one frozen dataclass per
section (sections.py) by a small schema checker (schema.py); keys that do nothing for a run
are warned about (unused_keys.py). Nothing here imports torch."""

from mlcore.config.load import apply_overrides, dump, load_config, read_yaml, safe_load, validate
from mlcore.config.sections import (
    ACTIVATIONS,
    DATASET_NAMES,
    MODEL_NAMES,
    OPTIMIZER_NAMES,
    SCHEDULER_NAMES,
    CheckpointConfig,
    Config,
    DataConfig,
    DiscriminatorConfig,
    EarlyStoppingConfig,
    EvalConfig,
    GeneratorConfig,
    ModelConfig,
    OptimizerConfig,
    RegularizationConfig,
    RunConfig,
    SchedulerConfig,
    SplitConfig,
    TrainerConfig,
)

__all__ = [
    "ACTIVATIONS", "DATASET_NAMES", "MODEL_NAMES", "OPTIMIZER_NAMES", "SCHEDULER_NAMES",
    "CheckpointConfig", "Config", "DataConfig", "DiscriminatorConfig", "EarlyStoppingConfig",
    "EvalConfig", "GeneratorConfig", "ModelConfig", "OptimizerConfig", "RegularizationConfig",
    "RunConfig", "SchedulerConfig", "SplitConfig", "TrainerConfig",
    "apply_overrides", "dump", "load_config", "read_yaml", "safe_load", "validate",
]  # fmt: skip
