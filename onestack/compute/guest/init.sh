#!/bin/sh
# /init of the onestack-tiny guest (busybox): drivers, config drive (else the metadata
# service), ssh key, user data, dropbear, a serial login, power-off on the ACPI button.
# Markers as cloud-init prints them.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /tmp /mnt/config /var/log /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko 2>/dev/null; done
echo "onestack-tiny: init started, uptime $(cut -d' ' -f1 /proc/uptime)s"
hostname onestack-tiny
ip link set lo up

# Config drive (label config-2) or nothing
cfg=""
for dev in $(findfs LABEL=config-2 2>/dev/null) /dev/vdb /dev/vdc /dev/sr0; do
    [ -b "$dev" ] || continue
    if mount -t iso9660 -o ro "$dev" /mnt/config 2>/dev/null; then
        if [ -f /mnt/config/openstack/latest/meta_data.json ]; then cfg=/mnt/config; break; fi
        umount /mnt/config
    fi
done
meta=$cfg/openstack/latest/meta_data.json
json() {  # the string value of a top-level key in meta_data.json
    [ -n "$cfg" ] || return
    sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$meta" | head -n1
}
identity() {  # hostname and instance id from meta_data.json
    name=$(json hostname); [ -n "$name" ] && hostname "${name%%.*}"
    iid=$(json uuid)
    echo "$(hostname)" > /etc/hostname
}
if [ -n "$cfg" ]; then
    echo "onestack-tiny: config drive found on $dev"
    identity
fi
echo "$(hostname)" > /etc/hostname

# Root disk: /dev/vda, formatted on first boot, mounted at /data
if [ -b /dev/vda ]; then
    mkdir -p /data
    mount -t ext4 /dev/vda /data 2>/dev/null || { mke2fs -q /dev/vda >/dev/null 2>&1 &&
        mount -t ext4 /dev/vda /data; }
    grep -q " /data " /proc/mounts && echo "onestack-tiny: root disk /dev/vda mounted on /data" \
        "($(df -k /data | awk 'NR==2 {print $2}') KiB)" &&
        echo "onestack-tiny: /data holds: $(ls /data | grep -v lost+found | tr '\n' ' ')"
fi

# Network: DHCP on every virtio NIC
for nic in $(ls /sys/class/net | grep -v '^lo$'); do
    ip link set "$nic" up
    udhcpc -i "$nic" -t 3 -T 1 -n -q -s /etc/udhcpc.sh >/dev/null 2>&1 &&
        echo "onestack-tiny: $nic $(ip -4 -o addr show "$nic" | awk '{print $4}')"
done

# No config drive: the metadata service (Networking's proxy at 169.254.169.254), same tree
MD_URL=http://169.254.169.254/openstack/latest
if [ -z "$cfg" ] && ip -4 route | grep -q .; then
    mkdir -p /run/metadata/openstack/latest
    fetch() { wget -q -T 2 -O "/run/metadata/openstack/latest/$1" "$MD_URL/$1" 2>/dev/null ||
        { rm -f "/run/metadata/openstack/latest/$1"; return 1; }; }
    if fetch meta_data.json; then
        cfg=/run/metadata meta=/run/metadata/openstack/latest/meta_data.json
        echo "onestack-tiny: metadata service at $MD_URL"
        fetch user_data
        identity
    fi
fi

# The user's ssh keys (public_keys in meta_data.json), with their fingerprints
mkdir -p /root/.ssh && chmod 700 /root/.ssh
if [ -n "$cfg" ]; then
    grep -o '"ssh-[a-z0-9-]* [A-Za-z0-9+/=]*[^"]*"' "$meta" | tr -d '"' |
        sed 's/\\n$//' | sort -u > /root/.ssh/authorized_keys
    pw=$(json admin_pass); [ -n "$pw" ] && echo "root:$pw" | chpasswd 2>/dev/null
fi
touch /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys
echo "ci-info: ++++++Authorized keys from /root/.ssh/authorized_keys for user root+++++++"
while read -r type key _; do
    [ -n "$key" ] || continue
    fp=$(echo "$key" | base64 -d | sha256sum | cut -d' ' -f1 | sed 's/../&:/g; s/:$//')
    echo "ci-info: | $type | $fp |"
done < /root/.ssh/authorized_keys 2>/dev/null

# ssh server with a fresh host key, printed as cloud-init prints them
mkdir -p /etc/dropbear
dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
echo "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
dropbearkey -y -f /etc/dropbear/dropbear_ed25519_host_key | sed -n 's/^Fingerprint: //p'
echo "-----END SSH HOST KEY FINGERPRINTS-----"
echo "-----BEGIN SSH HOST KEY KEYS-----"
dropbearkey -y -f /etc/dropbear/dropbear_ed25519_host_key | grep '^ssh-'
echo "-----END SSH HOST KEY KEYS-----"
dropbear -r /etc/dropbear/dropbear_ed25519_host_key -p 22 -E 2>/var/log/dropbear.log

# User data that is a shell script
if [ -n "$cfg" ] && [ -f "$cfg/openstack/latest/user_data" ]; then
    cp "$cfg/openstack/latest/user_data" /run/user_data
    if head -n1 /run/user_data | grep -q '^#!'; then
        chmod +x /run/user_data
        echo "onestack-tiny: running user data"
        /run/user_data > /var/log/user_data.log 2>&1
        echo "onestack-tiny: user data exited $?"
        sed 's/^/user-data: /' /var/log/user_data.log
    fi
fi

acpid -c /etc/acpi -l /var/log/acpid.log 2>/dev/null
up=$(cut -d' ' -f1 /proc/uptime)
echo "=== onestack-tiny: boot finished at uptime ${up}s instance ${iid:-none} ==="
echo "Cloud-init v. onestack-tiny finished. Up ${up} seconds"
exec /sbin/init
