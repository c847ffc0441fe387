"""Audits: a model and its references audited at once (`audit`), the
per-epoch audit in your own `fit` (`callback.PrivacyMetrics`), and the
one-run canary audit of differential privacy (`one_run`)."""
