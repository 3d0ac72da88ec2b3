# The report stage (policyml.report): PUMA estimates for the maps, the report, the index page.

rule estimate_pumas:
    input:
        households=rules.build_households.output.households,
    output:
        pumas=output_path("puma_estimates"),
    params:
        config=config_for("estimates", "targets"),
    threads: 1
    resources:
        mem_mb=memory(1000, 60),
    log:
        "logs/{state}/{year}/estimate_pumas.log",
    benchmark:
        "results/{state}/{year}/benchmarks/estimate_pumas.tsv"
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/estimate_pumas.py"


rule render_report:
    input:
        unpack(get_report_inputs),
        qmd=REPORT_QMD,
    output:
        report=output_path("report"),
    params:
        config=config_for("data"),
        results=layout.STATE_YEAR,
    threads: 1
    resources:
        mem_mb=memory(3000),
    log:
        "logs/{state}/{year}/render_report.log",
    benchmark:
        "results/{state}/{year}/benchmarks/render_report.tsv"
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/render_report.py"


rule render_index:
    input:
        reports=get_index_inputs("report"),
        summaries=get_index_inputs("data_summary"),
        # index_entry reads each state's metrics and its low-income flags
        metrics=[path for task in UNIT_TASKS["households"]
                 for path in get_index_inputs("metrics", unit="households", task=task)],
        features=get_index_inputs("features", unit="households"),
    output:
        index=layout.INDEX,
    threads: 1
    resources:
        mem_mb=memory(1500),
    log:
        "logs/render_index.log",
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/render_index.py"
