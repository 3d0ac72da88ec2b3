rule audit_fairness:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        predictions=get_model_predictions,
    output:
        groups="results/{state}/{year}/{unit}/fairness/{task}_groups.csv",
        disparities="results/{state}/{year}/{unit}/fairness/{task}_disparities.csv",
    params:
        config=config_for("models", "estimates"),
    log:
        "logs/{state}/{year}/{unit}/audit_fairness/{task}.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/audit_fairness/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    script:
        "../scripts/audit_fairness.py"


rule compare_mitigation:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        models=get_task_models,
    output:
        mitigation="results/{state}/{year}/{unit}/fairness/{task}_mitigation.csv",
    wildcard_constraints:
        task="classification",
    params:
        config=config_for("models", "estimates", "features", "fairness"),
    threads: 2
    resources:
        mem_mb=memory(1500, 100),
    log:
        "logs/{state}/{year}/{unit}/compare_mitigation/{task}.log",
    benchmark:
        "results/{state}/{year}/{unit}/benchmarks/compare_mitigation/{task}.tsv"
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/compare_mitigation.py"
