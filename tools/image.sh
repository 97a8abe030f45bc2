#!/usr/bin/env bash
# image.sh [--tag TAG] - builds the container image lwm2m-mqtt-gateway:TAG (default: latest)
# from docker/Dockerfile with buildah, on a machine where no registry is reachable: the
# Dockerfile's base, debian:bookworm-slim, is made here with debootstrap (minbase, trimmed
# like the official slim image) from the Debian mirror this machine's apt uses, unless buildah's
# storage already holds an image of that name. Prints the image's size at the end.
#
# Needs root (debootstrap, buildah's storage); installs buildah and debootstrap when missing.
# Buildah runs with chroot isolation (no container engine or daemon needed) and never pulls.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=latest
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) [ $# -ge 2 ] || { echo "image: --tag needs a value" >&2; exit 2; }; tag=$2; shift 2 ;;
    --tag=*) tag=${1#--tag=}; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: tools/image.sh [--tag TAG]" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" --tag "$tag"
fi

image=lwm2m-mqtt-gateway:$tag
base=docker.io/library/debian:bookworm-slim   # what FROM debian:bookworm-slim resolves to
export DEBIAN_FRONTEND=noninteractive
SECONDS=0

missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "image: installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The first URI of an enabled "deb" entry for SUITE in this machine's apt sources (one-line
# and deb822 formats), else DEFAULT: CI machines point at their own mirror or proxy.
mirror_for() {
  local suite=$1 default=$2 uri=""
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  for f in "${files[@]}"; do
    [ -r "$f" ] || continue
    case "$f" in
      *.sources)
        uri=$(awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
          { types = uris = suites = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
              line = $i; if (line ~ /^#/) continue
              key = tolower(line); sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
              if (key == "types") types = val; else if (key == "uris") uris = val
              else if (key == "suites") suites = val; else if (key == "enabled") enabled = tolower(val)
            }
            if (enabled == "no" || (" " types " ") !~ / deb /) next
            if ((" " suites " ") ~ (" " suite " ")) { split(uris, u, /[ \t]+/); print u[1]; exit }
          }' "$f") ;;
      *)
        uri=$(awk -v suite="$suite" '$1 == "deb" { sub(/\[[^]]*\][ \t]*/, "")
                                                 if ($3 == suite) { print $2; exit } }' "$f") ;;
    esac
    [ -n "$uri" ] && break
  done
  echo "${uri:-$default}"
}

if buildah inspect --type image "$base" >/dev/null 2>&1; then
  echo "image: using $base from buildah's storage" >&2
else
  mirror=$(mirror_for bookworm http://deb.debian.org/debian)
  security=$(mirror_for bookworm-security http://deb.debian.org/debian-security)
  echo "image: no $base in buildah's storage: debootstrap bookworm from $mirror" >&2
  include=()
  case "$mirror $security" in *https:*) include=(--include=ca-certificates) ;; esac
  rootfs=$(mktemp -d /var/tmp/bookworm-rootfs.XXXXXX)
  ctr=""
  cleanup() {
    if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
    # A debootstrap that failed half-way may leave /proc, /sys or a bind of /dev mounted in
    # the tree: unmount them, and never let rm cross into a mount.
    awk -v r="$rootfs/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$rootfs"
  }
  trap cleanup EXIT
  t0=$SECONDS
  debootstrap --variant=minbase "${include[@]}" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2; echo "image: debootstrap failed (log: $rootfs.log)" >&2; exit 1; }
  rm -f "$rootfs.log"

  # Every path below is under $r, never the machine's own: a guard against an empty variable.
  r=${rootfs:?}
  case "$r" in /var/tmp/bookworm-rootfs.*) ;; *) echo "image: bad rootfs '$r'" >&2; exit 1 ;; esac
  [ -x "$r/usr/bin/apt-get" ] || { echo "image: $r is not a debootstrap tree" >&2; exit 1; }

  # What the official slim image does (debuerreotype): no documentation, manual pages or
  # translations, now or in packages installed later; apt's caches cleaned after every run;
  # the three suites in deb822 form. debootstrap installs from bookworm alone: the updates of
  # bookworm-updates and bookworm-security are applied here. No trace of this machine is
  # left (resolv.conf, hostname).
  cat > "$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  echo force-unsafe-io > "$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  printf '#!/bin/sh\n# No service starts inside an image build.\nexit 101\n' > "$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"
  cat > "$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' > "$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$r/etc/apt/sources.list"
  cat > "$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  chroot "$r" apt-get update -qq
  chroot "$r" apt-get upgrade -y -qq >/dev/null
  find "$r/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/info" "$r/usr/share/man" "$r/usr/share/lintian/overrides" -mindepth 1 -delete \
    2>/dev/null || true
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  find "$r/var/lib/apt/lists" "$r/var/log" -type f -delete
  find "$r/tmp" "$r/var/tmp" -mindepth 1 -delete
  rm -f "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
  : > "$r/etc/resolv.conf"
  rm -f "$r/etc/hostname"
  t1=$SECONDS

  # buildah 1.28 has no "import": a scratch container, the tree copied into its mount with
  # owners and modes kept (setuid bits, group shadow), committed under the name FROM uses.
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$rootfs" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
  buildah umount "$ctr" >/dev/null
  buildah config --cmd '["bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.description="Debian 12 minbase made by tools/image.sh (debootstrap)" \
    "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  ctr=""
  echo "image: made $base in $((t1 - t0)) s (debootstrap) + $((SECONDS - t1)) s (import)" >&2
fi

# --format docker: the OCI image format has no HEALTHCHECK (buildah would drop it).
# --layers: a rebuild after a source change starts from the cached apt-get layers.
# The build context is the repository; docker/Dockerfile.dockerignore keeps it to the
# sources (BuildKit reads that file by itself; buildah is told).
t2=$SECONDS
buildah bud --isolation chroot --pull=never --layers --format docker \
  --ignorefile docker/Dockerfile.dockerignore \
  -f docker/Dockerfile -t "$image" .
echo "image: built $image in $((SECONDS - t2)) s ($SECONDS s in all)" >&2
echo "$image $(buildah images --format '{{.Size}}' "$image" | head -n 1)"
