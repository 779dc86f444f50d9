# Functions of the guest's /init that read the context CD-ROM and apply it, in
# busybox ash. Every line meant for the serial console starts with "nubo-context: ".
# State lives in $NUBO_RUN so that a subshell (each context.sh is read in one, so a
# second read starts clean) can record what it did.
NUBO_RUN=${NUBO_RUN:-/run/nubo}
CTX_MNT=${CTX_MNT:-/mnt/context}
CTX_WAIT=${CTX_WAIT:-600}          # tenths of a second to wait for the CD-ROM at boot
HOTPLUG_TRIES=${HOTPLUG_TRIES:-30} # context re-reads for a new NIC before giving up
SYS_NET=${SYS_NET:-/sys/class/net}
SYS_BLOCK=${SYS_BLOCK:-/sys/block}
SSH_DIR=${SSH_DIR:-/root/.ssh}

say() { echo "nubo-context: $*"; }

# The device holding the ISO 9660 volume labelled CONTEXT (its volume id is the 32
# bytes at 32808), else nothing.
find_context_cd() {
    dev=$(findfs LABEL=CONTEXT 2>/dev/null) && [ -b "$dev" ] && { echo "$dev"; return 0; }
    for dev in /dev/sr* /dev/vd* /dev/sd* /dev/hd*; do
        [ -b "$dev" ] || continue
        label=$(dd if="$dev" bs=1 skip=32808 count=8 2>/dev/null)
        [ "$label" = "CONTEXT " ] && { echo "$dev"; return 0; }
    done
    return 1
}

# Mount the context CD-ROM (again: a rebuilt one is read afresh); fails if none.
mount_context() {
    umount "$CTX_MNT" 2>/dev/null
    tries=${1:-1}
    while [ "$tries" -gt 0 ]; do
        dev=$(find_context_cd) && break
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] && usleep 100000
    done
    [ -n "$dev" ] || return 1
    blockdev --flushbufs "$dev" 2>/dev/null
    mkdir -p "$CTX_MNT"
    mount -t iso9660 -o ro "$dev" "$CTX_MNT" 2>/dev/null && [ -f "$CTX_MNT/context.sh" ]
}

# context.sh of the CD-ROM copied to $NUBO_RUN, the CD-ROM unmounted at once: a
# mounted one has its tray locked and the host could not change its medium when it
# rebuilds the context (NIC hotplug).
fetch_context() {
    mount_context "$1" && cp "$CTX_MNT/context.sh" "$NUBO_RUN/context.sh"
    rc=$?
    umount "$CTX_MNT" 2>/dev/null
    return $rc
}

# The prefix length of a dotted mask ("" reads as 255.255.255.0, as one-context does).
prefix_of() {
    [ -n "$1" ] || { echo 24; return; }
    case $1 in *.*) ipcalc -p 0.0.0.0 "$1" | sed 's/PREFIX=//' ;; *) echo "$1" ;; esac
}

lower() { echo "$1" | tr 'A-F' 'a-f'; }

# The interface whose MAC is $1, else nothing.
iface_of_mac() {
    want=$(lower "$1")
    for dir in "$SYS_NET"/*; do
        [ "$(lower "$(cat "$dir/address" 2>/dev/null)")" = "$want" ] && { echo "${dir##*/}"; return 0; }
    done
    return 1
}

# The n of every ETHn_MAC context.sh set, in order.
context_nics() {
    set | sed -n 's/^ETH\([0-9][0-9]*\)_MAC=.*/\1/p' | sort -n
}

# Configure interface $2 from ETH$1_*; prints "ethN=IP/PREFIX" (and " gw=GW" when it
# set the default route).
configure_nic() {
    n=$1; iface=$2
    eval "ip_=\$ETH${n}_IP mask_=\$ETH${n}_MASK gw_=\$ETH${n}_GATEWAY mtu_=\$ETH${n}_MTU"
    ip link set "$iface" up
    [ -n "$mtu_" ] && ip link set "$iface" mtu "$mtu_"
    [ -n "$ip_" ] || { printf 'eth%s=none' "$n"; return; }
    prefix=$(prefix_of "$mask_")
    ip addr flush dev "$iface"
    ip addr add "$ip_/$prefix" dev "$iface"
    printf 'eth%s=%s/%s' "$n" "$ip_" "$prefix"
    if [ -n "$gw_" ] && [ ! -e "$NUBO_RUN/gateway" ]; then
        ip route replace default via "$gw_" dev "$iface" && echo "$gw_" > "$NUBO_RUN/gateway"
    fi
}

# Apply a context.sh already sourced: hostname, NICs, SSH key; then the line.
apply_context() {
    name=${SET_HOSTNAME:-$HOSTNAME}
    [ -n "$name" ] && hostname "$name"
    nics=""
    for n in $(context_nics); do
        eval "mac=\$ETH${n}_MAC"
        [ -n "$mac" ] || continue
        if iface=$(iface_of_mac "$mac"); then
            nics="$nics $(configure_nic "$n" "$iface")"
            echo "$iface" >> "$NUBO_RUN/configured"
        else
            nics="$nics eth$n=absent"
        fi
    done
    key=no
    if [ -n "$SSH_PUBLIC_KEY" ]; then
        mkdir -p "$SSH_DIR" && chmod 700 "$SSH_DIR"
        printf '%s\n' "$SSH_PUBLIC_KEY" > "$SSH_DIR/authorized_keys"
        chmod 600 "$SSH_DIR/authorized_keys"
        key=yes
    fi
    script=no
    [ -n "$START_SCRIPT$START_SCRIPT_BASE64" ] && script=yes
    gw=$(cat "$NUBO_RUN/gateway" 2>/dev/null)
    up=$(cut -d" " -f1 /proc/uptime 2>/dev/null)
    say "hostname=${name:--}$nics gw=${gw:--} ssh-key=$key start-script=$script uptime=${up:--}"
    [ "$script" = yes ] && run_start_script
}

# START_SCRIPT_BASE64 (else START_SCRIPT) run once, by its #! or by sh.
run_start_script() {
    file=$NUBO_RUN/start-script
    if [ -n "$START_SCRIPT_BASE64" ]; then
        printf '%s' "$START_SCRIPT_BASE64" | base64 -d > "$file"
    else
        printf '%s\n' "$START_SCRIPT" > "$file"
    fi
    chmod 700 "$file"
    if head -c 2 "$file" | grep -q '^#!'; then "$file"; else sh "$file"; fi
    say "start-script exit=$?"
}

# At boot: wait for the CD-ROM, apply it, remember every interface there is.
boot_apply() {
    mkdir -p "$NUBO_RUN"
    : > "$NUBO_RUN/configured"
    if fetch_context "$CTX_WAIT"; then
        ( . "$NUBO_RUN/context.sh"; apply_context )
    else
        say "no context CD-ROM"
    fi
    ls "$SYS_NET" > "$NUBO_RUN/seen"
    boot_disks
}

# A NIC that appeared after boot: read the (rebuilt) context again and configure it
# if an ETHn_MAC names it; retried each second, HOTPLUG_TRIES times at most.
hotplug_nic() {
    iface=$1
    mac=$(lower "$(cat "$SYS_NET/$iface/address" 2>/dev/null)")
    tries=$(cat "$NUBO_RUN/tries.$iface" 2>/dev/null || echo 0)
    echo $((tries + 1)) > "$NUBO_RUN/tries.$iface"
    if fetch_context 1; then
        done_=$( . "$NUBO_RUN/context.sh"
            for n in $(context_nics); do
                eval "m=\$ETH${n}_MAC"
                [ "$(lower "$m")" = "$mac" ] && { configure_nic "$n" "$iface"; break; }
            done )
        if [ -n "$done_" ]; then
            say "hotplug dev=$iface $done_"
            echo "$iface" >> "$NUBO_RUN/seen"
            return 0
        fi
    fi
    if [ $((tries + 1)) -ge "$HOTPLUG_TRIES" ]; then
        say "hotplug dev=$iface mac=$mac not in context"
        echo "$iface" >> "$NUBO_RUN/seen"
    fi
}

hotplug_round() {
    for dir in "$SYS_NET"/*; do
        iface=${dir##*/}
        [ -e "$dir" ] || continue
        grep -qx "$iface" "$NUBO_RUN/seen" || hotplug_nic "$iface"
    done
    disk_round
}

# The guest's disks, one "dev size" a line: every block device but CD-ROMs, floppies,
# loop and RAM devices (the context CD-ROM is not a disk). Size in MiB from the 512-byte
# sectors sysfs counts.
list_disks() {
    for dir in "$SYS_BLOCK"/*; do
        dev=${dir##*/}
        case $dev in sr*|fd*|loop*|ram*|zram*) continue ;; esac
        sectors=$(cat "$dir/size" 2>/dev/null) || continue
        echo "$dev $((sectors / 2048))MiB"
    done
}

# At boot: "disks DEV=SIZE ..." (or "disks -"), and what there is remembered.
boot_disks() {
    list_disks > "$NUBO_RUN/disks"
    say "disks$(awk '{printf " %s=%s", $1, $2} END {if (!NR) printf " -"}' "$NUBO_RUN/disks")"
}

# After boot: a line per disk that appeared ("disk dev=sda size=16MiB") or went
# ("disk dev=sda gone"), as the host attaches and detaches them.
disk_round() {
    list_disks > "$NUBO_RUN/disks.now"
    while read -r dev size; do
        grep -q "^$dev " "$NUBO_RUN/disks" || say "disk dev=$dev size=$size"
    done < "$NUBO_RUN/disks.now"
    while read -r dev size; do
        grep -q "^$dev " "$NUBO_RUN/disks.now" || say "disk dev=$dev gone"
    done < "$NUBO_RUN/disks"
    mv "$NUBO_RUN/disks.now" "$NUBO_RUN/disks"
}

# ACPI power button (virsh shutdown) -> poweroff: busybox acpid runs
# /etc/acpi/PWRF/00000080 on the button's event.
start_acpid() {
    mkdir -p /etc/acpi/PWRF "$NUBO_RUN"
    printf '#!/bin/sh\necho "nubo-context: power button, powering off" > /dev/console\nsync\npoweroff -f\n' \
        > /etc/acpi/PWRF/00000080
    chmod 755 /etc/acpi/PWRF/00000080
    acpid -l "$NUBO_RUN/acpid.log" -p "$NUBO_RUN/acpid.pid" 2>/dev/null
}

exec_hotplug_loop() {
    while true; do
        sleep 1
        hotplug_round
    done
}
