from setuptools import find_packages, setup

setup(
    name="tfmia",
    version="0.1.0",
    description="Membership-inference case studies for TensorFlow/Keras models.",
    packages=find_packages(include=["tfmia", "tfmia.*"]),
    python_requires=">=3.11,<3.12",
    # The pinned stack lives in requirements.txt; the Makefile installs it.
    install_requires=[],
    entry_points={"console_scripts": ["tfmia=tfmia.cli:main"]},
)
