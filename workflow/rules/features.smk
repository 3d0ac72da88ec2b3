rule build_features:
    input:
        unpack(get_feature_inputs),
    output:
        features="results/{state}/{year}/{unit}/features.parquet",
        spec="results/{state}/{year}/{unit}/feature_spec.json",
    params:
        config=config_for("data", "features", "targets"),
    log:
        "logs/{state}/{year}/{unit}/build_features.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/build_features.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    script:
        "../scripts/build_features.py"


rule split_data:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
    output:
        split="results/{state}/{year}/{unit}/split.parquet",
    params:
        config=config_for("split"),
    log:
        "logs/{state}/{year}/{unit}/split_data.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/split_data.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    script:
        "../scripts/split_data.py"


rule check_representativeness:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
    output:
        representativeness="results/{state}/{year}/{unit}/representativeness.csv",
    params:
        config=config_for("estimates"),
    log:
        "logs/{state}/{year}/{unit}/check_representativeness.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/check_representativeness.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    script:
        "../scripts/check_representativeness.py"
