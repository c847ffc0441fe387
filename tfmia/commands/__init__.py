"""The `tfmia` commands besides the case studies, one module each: its
flags (`add_arguments`, `add_parser`) and `handle(args) -> int`, which turns
them into a config and calls the library. The case studies' commands are in
`tfmia/studies/<name>/cli.py`; `tfmia.cli` registers them all."""
