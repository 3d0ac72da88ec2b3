rule build_households:
    input:
        unpack(get_household_inputs),
    output:
        households="results/{state}/{year}/households.parquet",
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
