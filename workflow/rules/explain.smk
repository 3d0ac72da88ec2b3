rule explain_models:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        models=get_task_models,
    output:
        importance="results/{state}/{year}/{unit}/explain/{task}_importance.csv",
        shap="results/{state}/{year}/{unit}/explain/{task}_shap.parquet",
        shap_groups="results/{state}/{year}/{unit}/explain/{task}_shap_groups.csv",
    params:
        config=config_for("models", "estimates", "explain", without=("models.threshold",)),
    threads: 2
    resources:
        mem_mb=memory(2000, 100),
    log:
        "logs/{state}/{year}/{unit}/explain_models/{task}.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/explain_models/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/explain_models.py"
