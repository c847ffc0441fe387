"""Results: frozen dataclasses (`attack_results`: ROC, AUC, TPR at low FPR,
bootstrap intervals, accuracy) and the bounds of DP auditing (`dp_bounds`).
"""

from tfmia.results.attack_results import (ENTIRE_DATASET, REPORTED_FPRS,
                                          AttackResult, AttackResults,
                                          Bootstrap, RocCurve, accuracy,
                                          accuracy_interval,
                                          bootstrap, correct,
                                          decision_accuracy_interval,
                                          history_dataframe, load_history,
                                          save_history, tpr_name)

__all__ = ["AttackResult", "AttackResults", "Bootstrap", "ENTIRE_DATASET",
           "REPORTED_FPRS", "RocCurve", "accuracy", "accuracy_interval",
           "bootstrap", "correct", "decision_accuracy_interval",
           "history_dataframe", "load_history", "save_history", "tpr_name"]
