rule summarize_data:
    input:
        persons=rules.fetch_persons.output.persons,
        households=rules.build_households.output.households,
    output:
        summary="results/{state}/{year}/data_summary.json",
    params:
        config=config_for("data", "published", "estimates"),
    log:
        "logs/{state}/{year}/summarize_data.log",
    benchmark:
        "results/{state}/{year}/benchmarks/summarize_data.tsv"
    conda:
        "../envs/policyml.yaml"
    threads: 1
    resources:
        mem_mb=memory(1000, 40),
    script:
        "../scripts/summarize_data.py"
