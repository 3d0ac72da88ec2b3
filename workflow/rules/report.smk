# The report stage (policyml.report): PUMA estimates for the maps, the report, the index page.

rule estimate_pumas:
    input:
        households=rules.build_households.output.households,
    output:
        pumas="results/{state}/{year}/puma_estimates.csv",
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
        report="results/{state}/{year}/report.html",
    params:
        config=config_for("data"),
        results="results/{state}/{year}",
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
        reports=expand("results/{state_year}/report.html", state_year=STATE_YEARS),
        summaries=expand("results/{state_year}/data_summary.json", state_year=STATE_YEARS),
        # index_entry reads each state's metrics and its low-income flags
        metrics=expand("results/{state_year}/households/metrics/{task}.csv", state_year=STATE_YEARS,
                       task=UNIT_TASKS["households"]),
        features=expand("results/{state_year}/households/features.parquet", state_year=STATE_YEARS),
    output:
        index="results/index.html",
    threads: 1
    resources:
        mem_mb=memory(1500),
    log:
        "logs/render_index.log",
    conda:
        "../envs/policyml.yaml"
    script:
        "../scripts/render_index.py"
