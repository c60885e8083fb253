#!/bin/bash
# bench:sync's peer: a hand-written ConfigMap-to-Envoy sidecar script of the kind published in blog
# posts (this one: "将热更新configmap作为Envoy的XDS服务", 2022), kept verbatim. Its sidecar ran it as
# `sh /tmp/inotify.sh /configs`, with Envoy reading the copies in /tmp/; bench/sync.ts replaces
# `/tmp/` with its target directory. It reads keys through kubelet's moving symlinks, truncates the
# file Envoy watches (`cat >`) and renames it twice per event: what `watch` is measured against.
/usr/bin/inotifywait -mrq --format '%f' -e create,close_write,delete $1  | while read line
do
    if [ -f $1/$line ];then
        echo $line
        cat $1/$line > /tmp/$line
        mv /tmp/$line /tmp/$line'_bak'
        mv /tmp/$line'_bak' /tmp/$line
    else
        echo "2"
    fi
done
