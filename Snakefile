# ASTROMER (Donoso-Oliva et al. 2023) as a Snakemake workflow: data -> pretraining -> fine-tuning ->
# classifiers -> the paper's figures and tables. Rules hold no logic: each calls one `astromer` command.
#   snakemake --profile profiles/local                          # the paper (config/config.yaml)
#   snakemake --profile profiles/local --configfile config/demo.yaml   # the simulated demo, results/demo/
#   snakemake --profile profiles/slurm results/fig11_ogle.pdf   # one survey on a Slurm cluster
import os
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

from snakemake.utils import min_version

min_version("9.0")


envvars:
    "PATH",


# The `astromer` command sits beside the Python that runs Snakemake (e.g. .venv/bin/snakemake), whether or
# not that environment is activated; jobs (local or sbatch'ed) inherit this PATH. Appended, so that an
# `astromer` already on PATH (an activated or conda environment, a test stand-in) still comes first.
os.environ["PATH"] = (
    os.environ.get("PATH", "") + os.pathsep + os.path.dirname(sys.executable)
)


# Snakemake's message for a config file that is not valid YAML does not name the file: name ours first.
# (A broken file given with --configfile is read by Snakemake before this Snakefile runs.)
try:
    yaml.safe_load(Path(workflow.basedir, "config/config.yaml").read_text())
except yaml.YAMLError as exc:
    raise WorkflowError(f"config/config.yaml is not valid YAML: {exc}") from None


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/figures.smk"


report: "workflow/report/workflow.rst"


# trivial jobs (and the small weights download: compute nodes may lack internet) run where Snakemake runs
localrules:
    all,
    model_config,
    download_weights,


rule all:
    default_target: True
    input:
        paper_targets(),
