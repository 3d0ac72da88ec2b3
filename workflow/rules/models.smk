rule fit_model:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
    output:
        model="results/{state}/{year}/models/{task}/{model}.joblib",
        predictions="results/{state}/{year}/predictions/{task}/{model}.parquet",
    wildcard_constraints:
        model="dummy|ols|logistic",
    params:
        config=config_for("models"),
    log:
        "logs/{state}/{year}/fit_model/{task}/{model}.log",
    benchmark:
        "results/{state}/{year}/benchmarks/fit_model/{task}/{model}.tsv"
    conda:
        "../envs/policyml.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/fit_model.py"


use rule fit_model as tune_model with:
    output:
        model="results/{state}/{year}/models/{task}/{model}.joblib",
        predictions="results/{state}/{year}/predictions/{task}/{model}.parquet",
        cv_results="results/{state}/{year}/tuning/{task}/{model}.csv",
    wildcard_constraints:
        model="random_forest|xgboost",
    threads: 2
    log:
        "logs/{state}/{year}/tune_model/{task}/{model}.log",
    benchmark:
        "results/{state}/{year}/benchmarks/tune_model/{task}/{model}.tsv"


rule evaluate_models:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        predictions=get_model_predictions,
    output:
        metrics="results/{state}/{year}/metrics/{task}.csv",
        calibration="results/{state}/{year}/metrics/{task}_calibration.csv",
    params:
        config=config_for("models", "estimates"),
    log:
        "logs/{state}/{year}/evaluate_models/{task}.log",
    benchmark:
        "results/{state}/{year}/benchmarks/evaluate_models/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/evaluate_models.py"


rule tabulate_coefficients:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        model=get_linear_model,
    output:
        coefficients="results/{state}/{year}/coefficients/{task}.csv",
    log:
        "logs/{state}/{year}/tabulate_coefficients/{task}.log",
    benchmark:
        "results/{state}/{year}/benchmarks/tabulate_coefficients/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/tabulate_coefficients.py"
