rule fetch_persons:
    output:
        persons="results/{state}/{year}/persons.parquet",
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
        housing="results/{state}/{year}/housing.parquet",
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
