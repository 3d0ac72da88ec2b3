# The data stage (policyml.data): Census files, the household table, its summaries.

rule fetch_persons:
    output:
        persons=output_path("persons"),
    params:
        config=config_for("data", "housing_file"),
    log:
        "logs/{state}/{year}/fetch_persons.log",
    benchmark:
        "results/{state}/{year}/benchmarks/fetch_persons.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(3000),
    script:
        "../scripts/fetch_persons.py"


rule fetch_housing:
    output:
        housing=output_path("housing"),
    params:
        config=config_for("data", "housing_file"),
    log:
        "logs/{state}/{year}/fetch_housing.log",
    benchmark:
        "results/{state}/{year}/benchmarks/fetch_housing.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(3000),
    script:
        "../scripts/fetch_housing.py"

rule build_households:
    input:
        unpack(get_household_inputs),
    output:
        households=output_path("households"),
    params:
        config=config_for("data", "housing_file"),
    log:
        "logs/{state}/{year}/build_households.log",
    benchmark:
        "results/{state}/{year}/benchmarks/build_households.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    script:
        "../scripts/build_households.py"

rule summarize_data:
    input:
        persons=rules.fetch_persons.output.persons,
        households=rules.build_households.output.households,
    output:
        summary=output_path("data_summary"),
    params:
        config=config_for("data", "published", "estimates"),
    log:
        "logs/{state}/{year}/summarize_data.log",
    benchmark:
        "results/{state}/{year}/benchmarks/summarize_data.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 40),
    script:
        "../scripts/summarize_data.py"


rule record_run_settings:
    input:
        persons=rules.fetch_persons.output.persons,
    output:
        settings=output_path("run_settings"),
    params:
        config=STATE_CONFIG,
    log:
        "logs/{state}/{year}/record_run_settings.log",
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(500),
    script:
        "../scripts/record_run_settings.py"


rule summarize_missing_data:
    input:
        households=rules.build_households.output.households,
    output:
        missing_data=output_path("missing_data"),
    params:
        config=config_for("estimates"),
    log:
        "logs/{state}/{year}/summarize_missing_data.log",
    benchmark:
        "results/{state}/{year}/benchmarks/summarize_missing_data.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 40),
    script:
        "../scripts/summarize_missing_data.py"
