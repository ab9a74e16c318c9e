#!/bin/bash
# The server side of the xen-2004 web-hosting workload, run the same way on the host (native)
# and in a guest: a private nginx serving the 36 static files of src/bench/web_mix.h and proxying
# the dynamic requests to web-dynamic (web-dynamic.c, compiled here with this target's gcc).
#
#   web-serve.sh start DIR PORT   prints "WEB-READY PORT" once both answer through PORT
#   web-serve.sh stop DIR         stops both, waits until they are gone, removes DIR (idempotent)
#
# nginx listens on PORT on all IPv4 addresses, web-dynamic on 127.0.0.1:PORT+1. Everything
# lives in DIR: www/static/, nginx.conf, nginx.pid, web-dynamic.pid, the logs and nginx's
# temporary files; /etc/nginx and the packaged service are not used. A failure exits non-zero
# with one line on stderr and leaves nothing running (DIR stays, with the logs, for `stop`).
# Needs: nginx (Debian's nginx-light is enough), gcc, bash, coreutils.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "web-serve: $*" >&2; exit 1; }
# The marker that makes DIR ours: `stop` removes only a directory that has it.
marker=.paddock-web-serve

# Whether PID is alive and its command line mentions TEXT (a pid file can outlive its process,
# and the number be reused).
running() {
    local pid=$1 text=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null </proc/"$pid"/cmdline) || return 1
    [[ $cmd == *"$text"* ]]
}

# Whether PID exists and is not a zombie (its parent, maybe init, has not reaped it yet).
alive() {
    local stat
    stat=$(cat /proc/"$1"/stat 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# The pids of PID's children.
children() { grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3 || true; }

# Stops the process in pid file FILE (if it is still the one whose command line mentions TEXT)
# and its children: SIGTERM, then SIGKILL after 10 s.
stop_pidfile() {
    local file=$1 text=$2 pid kids kid p i
    [[ -f $file ]] || return 0
    pid=$(cat "$file" 2>/dev/null || true)
    if running "$pid" "$text"; then
        kids=$(children "$pid")
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            running "$pid" "$text" || break
            sleep 0.1
        done
        if running "$pid" "$text"; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.1
        fi
        # Workers outlive a killed nginx master; they must not keep the port.
        for kid in $kids; do
            alive "$kid" && kill -KILL "$kid" 2>/dev/null || true
        done
        for ((i = 0; i < 50; i++)); do
            local left=0
            for p in $pid $kids; do alive "$p" && left=1; done
            ((left)) || break
            sleep 0.1
        done
    fi
    rm -f "$file"
}

stop_all() {
    local dir=$1
    stop_pidfile "$dir/nginx.pid" "$dir/nginx.conf"
    stop_pidfile "$dir/web-dynamic.pid" "$dir"
}

# Whether an HTTP GET of PATH on 127.0.0.1:PORT answers 200, within 5 s (bash's /dev/tcp: the
# guest may have neither curl nor wget).
answers() {
    local port=$1 path=$2
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
        IFS= read -r -t 5 status <&3
        [[ $status == "HTTP/1."[01]" 200 "* ]]
    ) 2>/dev/null
}

# Whether something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The 36 static files of web_mix.h's staticFiles(): class C (0..3), file I (0..8) has
# (I + 1) × 1024 × 10^C / 10 bytes of repeated text.
write_static() {
    local www=$1 base=$1/.base scale=1024
    mkdir -p "$www/static"
    printf 'Paddock web-serve static file: the same text over and over, as the Xen paper did.\n' >"$base"
    while (($(stat -c %s "$base") < 1024 * 1024)); do
        cat "$base" "$base" >"$base.2" && mv "$base.2" "$base"
    done
    for ((c = 0; c < 4; c++, scale *= 10)); do
        for ((i = 0; i < 9; i++)); do
            head -c $(((i + 1) * scale / 10)) "$base" >"$www/static/class${c}_$i"
        done
    done
    rm -f "$base"
}

# nginx's temporary-file directives, for the modules this nginx has (nginx-light lacks some).
temp_paths() {
    local dir=$1 features
    features=$("$nginx" -V 2>&1)
    echo "client_body_temp_path $dir/tmp/body;"
    echo "proxy_temp_path $dir/tmp/proxy;"
    local m
    for m in fastcgi uwsgi scgi; do
        [[ $features == *"--without-http_${m}_module"* ]] || echo "${m}_temp_path $dir/tmp/$m;"
    done
}

write_conf() {
    local dir=$1 port=$2
    # As root the workers stay root: DIR may be private to its owner (mktemp -d). Otherwise
    # nginx cannot switch users and runs its workers as the caller.
    local user=""
    ((EUID == 0)) && user="user root;"
    cat >"$dir/nginx.conf" <<CONF
# Written by web-serve.sh; started as: nginx -c $dir/nginx.conf -p $dir
$user
worker_processes $(nproc);
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    types { text/html html; }
    default_type application/octet-stream;
    $(temp_paths "$dir" | tr '\n' ' ')
    upstream dynamic {
        server 127.0.0.1:$((port + 1));
        keepalive 64;
    }
    server {
        listen $port;
        server_name _;
        root $dir/www;
        location /static/ { }
        location = /register { proxy_pass http://dynamic; }
        location = /ad { proxy_pass http://dynamic; }
        location = /cookie { proxy_pass http://dynamic; }
        location /cgi-bin/ { proxy_pass http://dynamic; }
        location / { return 404; }
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
}
CONF
}

# Waits up to 30 s for CHECK ARGS... to succeed while the process in pid file PIDFILE (which a
# daemonizing nginx writes a moment after it returns) lives.
await() {
    local pidfile=$1 text=$2 pid i
    shift 2
    for ((i = 0; i < 300; i++)); do
        "$@" && return 0
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [[ -z $pid ]] || running "$pid" "$text" || return 1
        sleep 0.1
    done
    return 1
}

start() {
    local dir=$1 port=$2 nginx
    [[ $port =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65534)) || die "bad port: $port"
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    [[ -x $nginx ]] || die "nginx is not installed (Debian: apt-get install nginx-light)"
    command -v gcc >/dev/null || die "gcc is not installed"
    if [[ -e $dir && ! -e $dir/$marker ]] && [[ -n $(ls -A "$dir" 2>/dev/null) ]]; then
        die "$dir exists and is not a web-serve directory"
    fi
    mkdir -p "$dir" || die "cannot make $dir"
    dir=$(cd "$dir" && pwd)
    [[ -f $dir/nginx.pid || -f $dir/web-dynamic.pid ]] && die "$dir is already serving (stop it first)"
    touch "$dir/$marker"
    trap 'stop_all "$dir"' EXIT
    listening "$port" && die "port $port is in use"
    listening $((port + 1)) && die "port $((port + 1)) (the dynamic handler's) is in use"

    write_static "$dir/www"
    mkdir -p "$dir/tmp"
    gcc -O2 -Wall -Wextra -o "$dir/web-dynamic" "$here/web-dynamic.c" 2>"$dir/gcc.log" ||
        die "compiling web-dynamic.c failed: $(head -n 1 "$dir/gcc.log")"

    "$dir/web-dynamic" $((port + 1)) "$dir" </dev/null >>"$dir/web-dynamic.log" 2>&1 &
    echo $! >"$dir/web-dynamic.pid"
    await "$dir/web-dynamic.pid" "$dir" listening $((port + 1)) ||
        die "web-dynamic did not start: $(tail -n 1 "$dir/web-dynamic.log" 2>/dev/null)"

    write_conf "$dir" "$port"
    "$nginx" -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" </dev/null >"$dir/nginx.out" 2>&1 ||
        die "nginx did not start: $(grep -m 1 -E 'emerg|alert|crit' "$dir/nginx.out" || tail -n 1 "$dir/nginx.out")"
    await "$dir/nginx.pid" "$dir/nginx.conf" answers "$port" /static/class0_0 ||
        die "nginx does not serve static files: $(tail -n 1 "$dir/error.log" 2>/dev/null)"
    answers "$port" /cgi-bin/page ||
        die "nginx does not reach web-dynamic: $(tail -n 1 "$dir/error.log" 2>/dev/null)"
    trap - EXIT
    echo "WEB-READY $port"
}

stop() {
    local dir=$1
    [[ -e $dir ]] || return 0
    [[ -e $dir/$marker ]] || die "$dir is not a web-serve directory; not removing it"
    dir=$(cd "$dir" && pwd)
    stop_all "$dir"
    rm -rf "$dir"
}

case ${1:-} in
    start)
        (($# == 3)) || die "usage: web-serve.sh start DIR PORT"
        start "$2" "$3"
        ;;
    stop)
        (($# == 2)) || die "usage: web-serve.sh stop DIR"
        stop "$2"
        ;;
    *) die "usage: web-serve.sh start DIR PORT | stop DIR" ;;
esac
