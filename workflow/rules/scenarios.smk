rule run_scenarios:
    input:
        unpack(get_scenario_models),
        households=rules.build_households.output.households,
        features="results/{state}/{year}/households/features.parquet",
        spec="results/{state}/{year}/households/feature_spec.json",
    output:
        scenarios="results/{state}/{year}/households/scenarios.csv",
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
