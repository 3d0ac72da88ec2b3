"""A throw-away one-node SLURM cluster on localhost, for tests that submit real SLURM jobs.

:func:`slurm_cluster` writes a ``slurm.conf`` into a fresh temporary folder, starts ``munged`` (unless
one already serves the default socket), ``slurmctld`` and ``slurmd`` in the foreground as child
processes, waits until ``sinfo`` shows the node idle, yields a :class:`SlurmCluster`, and on the way
out (also after a failure) cancels the cluster's jobs, stops the daemons it started and removes
what it wrote. :func:`unavailable_reason` says why no cluster can be started here (the caller skips).

How it is set up, and why (Debian 12 slurm-wlm 22.05, no service manager, no cgroups):

- ``ProctrackType=proctrack/linuxproc`` and ``TaskPlugin=task/none``: no cgroup plugins needed.
- ``SlurmdParameters=config_overrides``: the node's CPUs and RealMemory come from slurm.conf, not
  from the hardware, so the node looks the same on any machine (at least 2 CPUs; RealMemory 16000).
- Accounting is off (``accounting_storage/none``), so ``sacct`` fails: clients must ask ``squeue``,
  and ``MinJobAge=3600`` keeps finished jobs visible to it (the plugin needs 3 x its first status
  interval; an hour lets a test list every job of its run afterwards).
- ``EnforcePartLimits=ALL``: a job asking for more CPUs or memory than the node has is refused at
  submission instead of pending forever (reason PartitionConfig).
- Configless: slurmd fetches the config from slurmctld (``--conf-server``) and links it at
  ``/run/slurm/conf``. This is needed because snakemake-executor-plugin-slurm-jobstep removes every
  ``SLURM_*`` variable, ``SLURM_CONF`` included, before the ``srun`` it runs inside each job; that
  srun then finds the config only at /etc/slurm/slurm.conf or /run/slurm/conf. The clients we start
  use ``SLURM_CONF`` (see :attr:`SlurmCluster.env`).
- Because slurmd fetches its config over the network, it can only use munge's default socket
  (``/run/munge/munge.socket.2``): a running munged is reused, else one is started with a fresh key.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: programs the cluster needs (Debian packages slurm-wlm, slurm-client and munge)
PROGRAMS = ("munged", "mungekey", "munge", "unmunge", "slurmctld", "slurmd", "sinfo", "squeue", "sbatch", "scancel")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
CONFIGLESS_LINK = Path("/run/slurm/conf")
PARTITION = "policyml"
NODE = "localhost"
MARKER = "# one-node test cluster written by tests/slurm_cluster.py"
SLURM_CONF_TEMPLATE = MARKER + """
ClusterName=policyml-test
SlurmctldHost={node}
SlurmctldPort={controller_port}
SlurmdPort={node_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldParameters=enable_configless
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
EnforcePartLimits=ALL
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={node} CPUs={cpus} RealMemory={real_memory_mb} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def find_program(name: str) -> str | None:
    """The path of ``name`` on PATH or in /usr/sbin, /sbin (daemons live there; root's PATH may lack them)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def unavailable_reason() -> str | None:
    """Why a test cluster cannot start on this machine, or None when it can."""
    if os.geteuid() != 0:
        return "starting a SLURM cluster needs root (slurmd runs jobs as their user); run the tests as root"
    missing = [name for name in PROGRAMS if find_program(name) is None]
    if missing:
        return f"SLURM or munge is not installed (missing {', '.join(missing)}): apt-get install slurm-wlm munge"
    if SYSTEM_CONF.exists():
        return (f"this machine has its own SLURM configuration ({SYSTEM_CONF}); the jobs' inner srun would "
                "read it instead of the test cluster's")
    linked = CONFIGLESS_LINK.resolve() / "slurm.conf"
    if linked.is_file() and MARKER not in linked.read_text(errors="replace"):
        return f"another configless slurmd serves this machine ({CONFIGLESS_LINK} -> {linked.parent})"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SlurmCluster:
    """A running test cluster: its folder, config file and the environment for its clients."""

    root: Path
    conf: Path
    env: dict[str, str]
    partition: str = PARTITION
    cpus: int = 2
    real_memory_mb: int = 16000
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command (sinfo, squeue, ...) against this cluster."""
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller still knows (finished ones for MinJobAge seconds): id, name, state."""
        result = self.run("squeue", "--noheader", "--states=all", "--format=%i|%j|%T")
        return [dict(zip(("id", "name", "state"), line.split("|"))) for line in result.stdout.splitlines()]

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of every daemon log, for failure messages."""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


def _start(cluster: SlurmCluster, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    output = open(cluster.root / "log" / f"{name}.out", "w")  # noqa: SIM115 - closed when the process is stopped
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    process.output = output  # type: ignore[attr-defined]
    cluster.processes[name] = process
    return process


def _stop(process: subprocess.Popen, grace: float = 15) -> None:
    """Stop a daemon we started and its session (slurmd's job steps), by process group id."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: start_new_session=True
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(grace)
    process.output.close()  # type: ignore[attr-defined]


def _wait_for(check, what: str, cluster: SlurmCluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} while waiting for {what}\n"
                                   + cluster.log_tail())
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n" + cluster.log_tail())


def _munge_works(env: dict[str, str]) -> bool:
    if not MUNGE_SOCKET.exists():
        return False
    credential = subprocess.run(["munge", "-n"], capture_output=True, env=env, timeout=10)
    if credential.returncode != 0:
        return False
    decoded = subprocess.run(["unmunge"], input=credential.stdout, capture_output=True, env=env, timeout=10)
    return decoded.returncode == 0


def _start_munge(cluster: SlurmCluster, stack: ExitStack) -> None:
    if _munge_works(cluster.env):
        return  # the machine's munged: use it, leave it running
    folder = cluster.root / "munge"
    folder.mkdir(mode=0o700)
    MUNGE_SOCKET.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    key = folder / "munge.key"
    subprocess.run([find_program("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
    process = _start(cluster, "munged", [
        find_program("munged"), "--foreground", "--force", f"--key-file={key}",
        f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
        f"--seed-file={folder / 'munged.seed'}",
    ], cluster.env)
    stack.callback(_stop, process)
    _wait_for(lambda: _munge_works(cluster.env), "munged", cluster, timeout=20)


def _node_state(cluster: SlurmCluster) -> str:
    result = cluster.run("sinfo", "--noheader", "--Node", "--format=%t", timeout=10)
    return result.stdout.strip() if result.returncode == 0 else ""


def _cancel_jobs(cluster: SlurmCluster, timeout: float = 30) -> None:
    """Cancel the cluster's jobs and wait (a while) until none is running or completing."""
    cluster.run("scancel", f"--partition={cluster.partition}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = cluster.run("squeue", "--noheader", "--states=PENDING,RUNNING,COMPLETING,CONFIGURING")
        if active.returncode != 0 or not active.stdout.strip():
            return
        time.sleep(1)


def _remove_configless_link(root: Path) -> None:
    if CONFIGLESS_LINK.is_symlink() and str(os.readlink(CONFIGLESS_LINK)).startswith(str(root)):
        CONFIGLESS_LINK.unlink()


@contextmanager
def slurm_cluster(cpus: int | None = None, real_memory_mb: int = 16000, timeout: float = 60) -> Iterator[SlurmCluster]:
    """Start a one-node cluster (partition ``policyml``, node ``localhost``); stop it on exit.

    ``cpus`` defaults to the CPUs this process may use, at least 2 (rules ask for up to
    ``--max-threads`` CPUs). ``real_memory_mb`` is what the node offers to jobs' ``--mem``.
    Raises RuntimeError, with the daemon logs, when the cluster does not come up in ``timeout`` s.
    """
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    root = Path(tempfile.mkdtemp(prefix="policyml-slurm-"))
    for folder in ("state", "spool", "log"):
        (root / folder).mkdir()
    cpus = cpus or max(len(os.sched_getaffinity(0)), 2)
    controller_port, node_port = free_port(), free_port()
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF_TEMPLATE.format(
        node=NODE, root=root, controller_port=controller_port, node_port=node_port, cpus=cpus,
        real_memory_mb=real_memory_mb, partition=PARTITION))
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    env = {**os.environ, "PATH": path, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(root=root, conf=conf, env=env, cpus=cpus, real_memory_mb=real_memory_mb)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        stack.callback(_remove_configless_link, root)
        _start_munge(cluster, stack)
        controller = _start(cluster, "slurmctld", [find_program("slurmctld"), "-D"], env)
        stack.callback(_stop, controller)
        # configless: the node daemon reads the config from the controller (and links /run/slurm/conf)
        node_env = {key: value for key, value in env.items() if key != "SLURM_CONF"}
        _wait_for(lambda: cluster.run("sinfo", timeout=10).returncode == 0, "slurmctld", cluster, timeout)
        node = _start(cluster, "slurmd", [find_program("slurmd"), "-D", "-N", NODE,
                                          f"--conf-server={NODE}:{controller_port}"], node_env)
        stack.callback(_stop, node)
        stack.callback(_cancel_jobs, cluster)  # runs first: jobs end before their daemons
        _wait_for(lambda: _node_state(cluster) == "idle", "the node to be idle", cluster, timeout)
        yield cluster
