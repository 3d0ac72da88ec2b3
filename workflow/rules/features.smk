rule build_features:
    input:
        households=rules.build_households.output.households,
    output:
        features="results/{state}/{year}/features.parquet",
        spec="results/{state}/{year}/feature_spec.json",
    params:
        config=config_for("data", "features", "targets"),
    log:
        "logs/{state}/{year}/build_features.log",
    benchmark:
        "results/{state}/{year}/benchmarks/build_features.tsv"
    conda:
        "../envs/policyml.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/build_features.py"


rule split_data:
    input:
        features=rules.build_features.output.features,
    output:
        split="results/{state}/{year}/split.parquet",
        representativeness="results/{state}/{year}/representativeness.csv",
    params:
        config=config_for("split", "estimates"),
    log:
        "logs/{state}/{year}/split_data.log",
    benchmark:
        "results/{state}/{year}/benchmarks/split_data.tsv"
    conda:
        "../envs/policyml.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/split_data.py"
