"""nubo's configuration: a TOML file whose every key has a documented default.

See docs/configuration.md; ``nubo serve --config FILE`` reads it, and command
line flags override the file.
"""
from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from nubo.auth.restricted import (IMAGE_RESTRICTED_ATTR, VM_RESTRICTED_ATTR,
                                  VNET_RESTRICTED_ATTR, spec_problem)
from nubo.drivers.capabilities import ALL as ALL_CAPABILITIES
from nubo.drivers.spec import DriverSpec, specs_from_config
from nubo.errors import NuboError

if TYPE_CHECKING:
    from nubo.auth.password_guard import GuardSettings
    from nubo.sched.policies import SchedConfig


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nubo"


@dataclass
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    listen: str = "127.0.0.1:2633"
    rpc_path: str = "/RPC2"
    # SQLAlchemy URL; empty means the embedded SQLite file DATA_DIR/nubo.db.
    database_url: str = ""
    # SQLite's synchronous pragma: FULL survives power loss, NORMAL only process crashes.
    sqlite_synchronous: str = "FULL"
    max_body_bytes: int = 8 * 1024 * 1024
    # Pool listings: "DESC" (newest first, OpenNebula's shipped default) or "ASC".
    api_list_order: str = "DESC"
    default_umask: str = "177"
    log_level: str = "INFO"
    # Worker threads serving API calls concurrently.
    api_threads: int = 32
    # Connection limits of the API's HTTP front (nubo.api.connections): seconds for a request's
    # headers and body to arrive, seconds a connection may idle between requests,
    # connections one source address may hold, and in all (0: the descriptor limit
    # minus a reserve).
    api_request_timeout: int = 30
    api_keep_alive_timeout: int = 5
    api_connections_per_source: int = 256
    api_max_connections: int = 0
    # Addresses of reverse proxies whose X-Forwarded-For names the real client (for the
    # per-source limits, the password back-off and the logs); empty: the socket's peer is
    # the client, so no local process can pose as another address.
    api_trusted_proxies: str = ""
    # Seconds between two probes of every host (0: no monitoring), as OpenNebula's
    # MONITORING_INTERVAL_HOST; each round is delayed by up to 10 % jitter. A fraction of
    # a second is allowed (tests).
    host_monitoring_interval: float = 180.0
    # Failed probes in a row before a host goes to ERROR (and its ERROR hooks run): one
    # lost probe is no host failure.
    host_error_probes: int = 3
    # VMs a host runs that nubo placed elsewhere or finished (zombies, shown on the host):
    # "report" (logged, in the host's TEMPLATE) or "destroy" (also CANCELled there once
    # two probes in a row saw them).
    zombie_policy: str = "destroy"
    # Seconds host and VM monitoring records are kept (one.host.monitoring,
    # one.vm.monitoring...); older ones are pruned at each probe round (0: never).
    monitoring_expiration: int = 43200
    # The scheduler (docs/scheduler.md): ``nubo serve`` runs it as a child process.
    scheduler: bool = True
    # Seconds between two full cycles; it also runs as soon as a VM becomes PENDING or
    # a host frees capacity.
    sched_interval: int = 15
    sched_policy: str = "packing"      # packing, striping, load-aware, custom, fixed
    sched_rank: str = ""               # the custom policy's rank
    sched_ds_policy: str = "packing"   # packing, striping, custom, fixed
    sched_ds_rank: str = ""
    sched_max_vm: int = 10000          # pending VMs considered per cycle (0: all)
    sched_max_dispatch: int = 10000    # VMs dispatched per cycle (0: no limit)
    sched_max_host: int = 0            # VMs dispatched to one host per cycle (0: no limit)
    sched_concurrency: int = 16        # one.vm.deploy calls in flight
    sched_retries: int = 3             # placements tried for a VM whose deploy fails
    # The driver that runs transfer scripts (PROLOG, EPILOG, ...: OpenNebula's one_tm);
    # each script line names the TM_MAD of its datastore (docs/drivers.md, TRANSFER).
    # "tm" (python -m nubo.drivers.tm) runs them for real; "dummy" only pretends.
    transfer_driver: str = "tm"
    # How the tm driver runs a command on a host that is neither this machine nor
    # simulated (the command line is appended, as ssh takes it; {host}: its name).
    transfer_remote_command: str = "ssh -o BatchMode=yes -o ConnectTimeout=10 {host}"
    # Where the tm driver keeps the files of simulated hosts (VM_MAD dummy): DIR/HOST/PATH;
    # empty: DATA_DIR/dummy-hosts.
    transfer_simulated_hosts: str = ""
    # The datastore (DS) driver (OpenNebula's one_datastore): copies, makes, clones and
    # removes image files (CP, MKFS, CLONE, RM...) and monitors datastores (MONITOR:
    # USED_MB, TOTAL_MB, FREE_MB); "ds" serves DS_MAD fs and dummy (nubo.drivers.ds).
    datastore_driver: str = "ds"
    # The driver of virtual networks (VN_MAD actions; none are sent yet); "" for none.
    network_driver: str = ""
    # Which driver process serves a datastore's TM_MAD / DS_MAD or a network's VN_MAD,
    # by kind: {tm = {ceph = "tm-ceph"}, ds = {...}, vn = {...}}; one not named here
    # goes to transfer_driver / datastore_driver / network_driver (nubo.drivers.registry).
    driver_routes: dict = field(default_factory=dict)
    # The front-end's name in transfer scripts (where images are copied from); empty:
    # this machine's host name.
    frontend_name: str = ""
    # Where datastores live, on the front-end and on the hosts (oned.conf's
    # DATASTORE_LOCATION): a datastore's BASE_PATH is this plus its id, a VM's system
    # directory BASE_PATH/VM_ID; empty: DATA_DIR/datastores.
    datastore_location: str = ""
    # Directories whose files a VM's CONTEXT/FILES may put on its context CD-ROM (a
    # restricted attribute besides); empty: none, FILES is refused (docs/context.md).
    context_files_dirs: list = field(default_factory=list)
    # The first two bytes of the MACs of address ranges that give no MAC of their own
    # (oned.conf's MAC_PREFIX); the last four are the IPv4 address, else random.
    mac_prefix: str = "02:00"
    # The first VNC port of each cluster (oned.conf's VNC_PORTS START): a VM with
    # GRAPHICS and no PORT gets START + its id at deploy, or the lowest free port.
    vnc_ports_start: int = 5900
    # OneGate's URL, given to VMs whose CONTEXT has TOKEN = "YES" (oned.conf's
    # ONEGATE_ENDPOINT); empty: none is given (oned refuses such VMs).
    onegate_endpoint: str = ""
    # Time zone (IANA name) of scheduled actions' weekly/monthly/yearly repetitions;
    # "" is the front-end's local zone (TZ, else /etc/localtime), as oned.
    sched_timezone: str = ""
    # How a REMOTE hook reaches its host: the command line (split as a shell would;
    # {host} is the host's name) to which the hook's command line is appended.
    hook_remote_command: str = "ssh -o BatchMode=yes -o ConnectTimeout=10 {host}"
    # A new cloud (the first start on an empty database) gets a simulated host of this
    # name on the dummy drivers, so a fresh install can run a VM; "" for none.
    first_dummy_host: str = "localhost-dummy"
    # Password guessing (docs/configuration.md): KDF runs at once and checks waiting for
    # one (beyond, refused); failures of one user name / one client address within the
    # window that back it off (0: never), for a delay doubling from auth_backoff seconds
    # up to auth_backoff_max while failures go on.
    auth_kdf_workers: int = 2
    auth_kdf_queue: int = 8
    auth_user_failures: int = 5
    auth_source_failures: int = 20
    auth_failure_window: int = 60
    auth_backoff: int = 1
    auth_backoff_max: int = 60
    # KVM hosts (docs/configuration.md, "KVM hosts"): whether the "kvm" driver is
    # started: "auto" when libvirt-python and the driver are installed, "yes", "no".
    kvm_driver: str = "auto"
    # Where its remote parts (the probe) go on the hosts,
    # the ssh command line a host's name is appended to, the hosts' python, the libvirt
    # URI on a host and the seconds a probe samples CPU usage over.
    kvm_remote_dir: str = "/var/tmp/nubo/remotes"
    kvm_ssh: str = "ssh -o BatchMode=yes -o ConnectTimeout=10"
    kvm_python: str = "python3"
    kvm_uri: str = "qemu:///system"
    # How the kvm driver reaches the libvirt of a host that is not this machine
    # ({host}: its name), and where a live migration's memory goes ({host}: the
    # destination's name).
    kvm_remote_uri: str = "qemu+ssh://{host}/system?no_tty=1"
    kvm_migrate_uri: str = "tcp://{host}"
    kvm_migrate_local_name: str = ""  # this machine as other hosts reach it ("": its name)
    kvm_probe_window: float = 0.5
    # A host of this name with IM_MAD and VM_MAD kvm, created at start if missing
    # (``nubo serve --with-kvm``: "localhost"); "" for none.
    kvm_host: str = ""
    # Drivers by name, each a [drivers.NAME] table (nubo.drivers.DriverSpec keys); the
    # built-in "dummy" driver is always there unless a table of that name replaces it.
    drivers: dict = field(default_factory=dict)
    # Attributes only the oneadmin group may set (oned.conf's *_RESTRICTED_ATTR, whose
    # defaults these are): "NAME" or "VECTOR/NAME" (docs/configuration.md).
    vm_restricted_attr: list = field(default_factory=lambda: list(VM_RESTRICTED_ATTR))
    image_restricted_attr: list = field(default_factory=lambda: list(IMAGE_RESTRICTED_ATTR))
    vnet_restricted_attr: list = field(default_factory=lambda: list(VNET_RESTRICTED_ATTR))

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def datastore_dir(self) -> str:
        """DATASTORE_LOCATION with its trailing slash, as BASE_PATH is built from it."""
        where = self.datastore_location or str(Path(self.data_dir) / "datastores")
        return where.rstrip("/") + "/"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'nubo.db'}"


class ConfigError(NuboError):
    """The configuration file is unreadable or holds a wrong key or value."""


def load_config(path: Path | None, **overrides: object) -> Config:
    """Read the TOML file (if any), then apply non-None overrides."""
    values: dict[str, object] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                values = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path}: {e}") from e
    known = {f.name: f for f in fields(Config)}
    for key in values:
        if key not in known:
            raise ConfigError(f"config file {path}: unknown key '{key}'")
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = Config()
    for key, value in values.items():
        current = getattr(cfg, key)
        expected = type(current)
        if expected is Path or isinstance(current, Path):
            value = Path(str(value)).expanduser()
        elif expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # TOML's 180 for a number of seconds
        elif not isinstance(value, expected):
            raise ConfigError(f"config key '{key}' must be {expected.__name__}, got {value!r}")
        setattr(cfg, key, value)
    if ":" not in cfg.listen or not cfg.listen.rsplit(":", 1)[1].isdigit():
        raise ConfigError(f"listen must be ADDRESS:PORT, got '{cfg.listen}'")
    for key in ("api_request_timeout", "api_keep_alive_timeout", "api_connections_per_source"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"config key '{key}' must be at least 1, got {getattr(cfg, key)}")
    if cfg.api_max_connections < 0:
        raise ConfigError("config key 'api_max_connections' must be 0 (from the descriptor "
                          f"limit) or more, got {cfg.api_max_connections}")
    if cfg.api_list_order.upper() not in ("ASC", "DESC"):
        raise ConfigError("api_list_order must be ASC or DESC")
    if cfg.host_error_probes < 1:
        raise ConfigError(f"host_error_probes must be at least 1, got {cfg.host_error_probes}")
    if cfg.kvm_driver not in ("auto", "yes", "no"):
        raise ConfigError(f"kvm_driver must be auto, yes or no, got '{cfg.kvm_driver}'")
    if cfg.zombie_policy not in ("report", "destroy"):
        raise ConfigError(f"zombie_policy must be report or destroy, got '{cfg.zombie_policy}'")
    for key in ("vm_restricted_attr", "image_restricted_attr", "vnet_restricted_attr"):
        for spec in getattr(cfg, key):
            problem = spec_problem(spec)
            if problem:
                raise ConfigError(f"config key '{key}': {problem}")
    if not 1 <= cfg.vnc_ports_start <= 65535:
        raise ConfigError(f"config key 'vnc_ports_start' must be a port (1-65535), got "
                          f"{cfg.vnc_ports_start}")
    from nubo.model.address_range import mac_prefix_problem
    problem = mac_prefix_problem(cfg.mac_prefix)
    if problem:
        raise ConfigError(f"config key 'mac_prefix': {problem}")
    try:
        sched_config(cfg)
        guard_settings(cfg)
    except ValueError as e:
        raise ConfigError(f"config: {e}") from e
    try:
        driver_specs(cfg)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config key 'drivers': {e}") from e
    return cfg


def sched_config(cfg: Config) -> "SchedConfig":
    """The scheduler's placement settings (ValueError names a wrong one)."""
    from nubo.sched.policies import SchedConfig
    return SchedConfig(policy=cfg.sched_policy, rank=cfg.sched_rank,
                       ds_policy=cfg.sched_ds_policy, ds_rank=cfg.sched_ds_rank,
                       max_vm=cfg.sched_max_vm, max_dispatch=cfg.sched_max_dispatch,
                       max_host=cfg.sched_max_host)


def guard_settings(cfg: Config) -> "GuardSettings":
    """The password checks' pool and back-off (ValueError names a wrong key)."""
    from nubo.auth.backoff import BackoffPolicy
    from nubo.auth.password_guard import GuardSettings
    for key, low in (("auth_kdf_workers", 1), ("auth_kdf_queue", 0), ("auth_user_failures", 0),
                     ("auth_source_failures", 0), ("auth_failure_window", 1),
                     ("auth_backoff", 1), ("auth_backoff_max", cfg.auth_backoff)):
        if getattr(cfg, key) < low:
            raise ValueError(f"{key} must be at least {low}, got {getattr(cfg, key)}")

    def policy(failures: int) -> BackoffPolicy:
        return BackoffPolicy(failures, float(cfg.auth_failure_window), float(cfg.auth_backoff),
                             float(cfg.auth_backoff_max))
    return GuardSettings(cfg.auth_kdf_workers, cfg.auth_kdf_queue,
                         policy(cfg.auth_user_failures), policy(cfg.auth_source_failures))


def tm_driver_command(cfg: Config) -> list[str]:
    """The transfer driver (nubo.drivers.tm) as this configuration wants it."""
    sim = cfg.transfer_simulated_hosts or str(Path(cfg.data_dir) / "dummy-hosts")
    command = [sys.executable, "-m", "nubo.drivers.tm", "--sim-root", sim,
               "--remote-command", cfg.transfer_remote_command]
    return command + (["--frontend", cfg.frontend_name] if cfg.frontend_name else [])


def kvm_available() -> bool:
    """libvirt-python is installed (the kvm extra) and so is the kvm driver: it can run."""
    import importlib.util
    return (importlib.util.find_spec("libvirt") is not None
            and importlib.util.find_spec("nubo.drivers.kvm.__main__") is not None)


def kvm_driver_table(cfg: Config) -> dict:
    """The kvm driver (nubo.drivers.kvm: vmm and im of KVM hosts through libvirt), its
    hosts' settings in its environment (nubo.drivers.kvm.remote)."""
    return {"command": [sys.executable, "-m", "nubo.drivers.kvm",
                        "--datastore-location", cfg.datastore_dir,
                        "--uri", cfg.kvm_remote_uri, "--migrate-uri", cfg.kvm_migrate_uri,
                        "--migrate-local-name", cfg.kvm_migrate_local_name],
            "concurrency": 64,
            "timeouts": {"DEPLOY": 600, "MIGRATE": 900, "SHUTDOWN": 400, "SAVE": 600,
                         "RESTORE": 600, "MONITOR": 120},
            "env": {"NUBO_KVM_REMOTE_DIR": cfg.kvm_remote_dir, "NUBO_KVM_SSH": cfg.kvm_ssh,
                    "NUBO_KVM_PYTHON": cfg.kvm_python, "NUBO_KVM_URI": cfg.kvm_uri,
                    "NUBO_KVM_PROBE_WINDOW": str(cfg.kvm_probe_window)}}


def driver_specs(cfg: Config) -> list[DriverSpec]:
    """The drivers ``nubo serve`` starts: the dummy (so that a fresh install can run
    VMs on ``dummy`` hosts, and tests need no setup) plus the configured ones.

    The dummy keeps its simulated VMs in DATA_DIR/dummy-state, so that they
    outlive a restart of the core as real VMs outlive a real driver, and takes the
    hosts named in DATA_DIR/dummy-down as cut off (docs/hooks.md).
    The kvm driver is there too when libvirt-python is installed.
    """
    state = Path(cfg.data_dir) / "dummy-state"
    down = Path(cfg.data_dir) / "dummy-down"
    tables: dict = {"dummy": {"command": [sys.executable, "-m", "nubo.drivers.dummy",
                                          "vmm,im,tm", "--state", str(state),
                                          "--down", str(down)],
                              "concurrency": 256, "capabilities": sorted(ALL_CAPABILITIES)},
                    # its datastore role apart: im and ds both answer MONITOR
                    "dummy-ds": {"command": [sys.executable, "-m", "nubo.drivers.dummy", "ds"],
                                 "concurrency": 64},
                    "tm": {"command": tm_driver_command(cfg), "concurrency": 64,
                           "timeout": 3600.0},
                    # the datastore driver: image files in BASE_PATH (fs), or none (dummy)
                    "ds": {"command": [sys.executable, "-m", "nubo.drivers.ds"],
                           "concurrency": 16, "timeouts": {"CP": 3600, "CLONE": 3600}}}
    if cfg.kvm_driver == "yes" or (cfg.kvm_driver == "auto" and kvm_available()):
        tables["kvm"] = kvm_driver_table(cfg)
    for name, table in cfg.drivers.items():
        if not isinstance(table, dict):
            raise ValueError(f"driver {name}: expected a table")
        tables[name] = table
    return specs_from_config(tables)
