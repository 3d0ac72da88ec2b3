# The audit stage (policyml.audit): fairness, mitigation, explanations, scenarios.

rule audit_fairness:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        predictions=get_model_predictions,
    output:
        groups=output_path("fairness_groups"),
        disparities=output_path("fairness_disparities"),
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
        mitigation=output_path("mitigation"),
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

rule explain_models:
    input:
        features=rules.build_features.output.features,
        spec=rules.build_features.output.spec,
        split=rules.split_data.output.split,
        models=get_task_models,
    output:
        importance=output_path("importance"),
        shap=output_path("shap"),
        shap_groups=output_path("shap_groups"),
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

rule run_scenarios:
    input:
        unpack(get_scenario_models),
        households=rules.build_households.output.households,
        features=output_path("features", unit="households"),
        spec=output_path("feature_spec", unit="households"),
    output:
        scenarios=output_path("scenarios", unit="households"),
    params:
        config=config_for("data", "features", "targets", "estimates", "scenarios"),
    threads: 1
    resources:
        mem_mb=memory(1500, 60),
    log:
        "logs/{state}/{year}/households/run_scenarios.log",
    benchmark:
        "results/{state}/{year}/households/benchmarks/run_scenarios.tsv"
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/run_scenarios.py"
