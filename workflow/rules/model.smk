# The model stage (policyml.model): features, the split, fits, evaluation.

rule build_features:
    input:
        unpack(get_feature_inputs),
    output:
        features=output_path("features"),
        spec=output_path("feature_spec"),
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
        split=output_path("split"),
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
        representativeness=output_path("representativeness"),
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

rule fit_model:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
    output:
        model=output_path("model"),
        predictions=output_path("predictions"),
    wildcard_constraints:
        model=fitted_by("fit_model"),
    params:
        config=config_for("models", without=("models.threshold",)),
    log:
        "logs/{state}/{year}/{unit}/fit_model/{task}/{model}.log",
    benchmark:
        output_path("benchmark", stage="fit_model")
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 100),
    script:
        "../scripts/fit_model.py"


use rule fit_model as tune_model with:
    output:
        model=output_path("model"),
        predictions=output_path("predictions"),
        cv_results=output_path("tuning"),
    wildcard_constraints:
        model=fitted_by("tune_model"),
    threads: 4
    resources:
        mem_mb=memory(600, 150, per_thread_mb=500),
    log:
        "logs/{state}/{year}/{unit}/tune_model/{task}/{model}.log",
    benchmark:
        output_path("benchmark", stage="tune_model")


rule evaluate_models:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        predictions=get_model_predictions,
    output:
        metrics=output_path("metrics"),
        calibration=output_path("calibration"),
    params:
        config=config_for("models", "estimates"),
    log:
        "logs/{state}/{year}/{unit}/evaluate_models/{task}.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/evaluate_models/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    script:
        "../scripts/evaluate_models.py"


rule tabulate_coefficients:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        model=get_linear_model,
    output:
        coefficients=output_path("coefficients"),
    log:
        "logs/{state}/{year}/{unit}/tabulate_coefficients/{task}.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/tabulate_coefficients/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 100),
    script:
        "../scripts/tabulate_coefficients.py"


use rule fit_model as fit_mlp with:
    output:
        model=output_path("model"),
        predictions=output_path("predictions"),
        history=output_path("mlp_history"),
        architecture=output_path("mlp_architecture"),
    wildcard_constraints:
        model=fitted_by("fit_mlp"),
    log:
        "logs/{state}/{year}/{unit}/fit_mlp/{task}/{model}.log",
    benchmark:
        output_path("benchmark", stage="fit_mlp")
