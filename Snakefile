# policyml: ACS PUMS -> household data -> models -> fairness, explanations -> teaching report.
# Run: snakemake --cores 8                      (embedded default: New Mexico, 2018)
#      snakemake --cores 8 --config states=[VT,WY]
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_output(),
    default_target: True


onsuccess:
    print(*report_lines(get_final_output()), sep="\n")
