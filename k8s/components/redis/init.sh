#!/bin/sh
# Renders this pod's redis.conf and sentinel.conf into /conf.
#
# The master is whoever the other pods' sentinels say it is (after a failover it need not be pod
# 0); if no sentinel answers (first start, or every pod restarted), pod 0 is the master.
set -eu

SERVICE=kvedge-redis
MASTER_SET=kvedge
REPLICAS=3
SELF="${POD_NAME}.${SERVICE}"

cp /templates/redis.conf /conf/redis.conf
cp /templates/sentinel.conf /conf/sentinel.conf

master=""
i=0
while [ "$i" -lt "$REPLICAS" ]; do
  peer="${SERVICE}-${i}.${SERVICE}"
  i=$((i + 1))
  [ "$peer" = "$SELF" ] && continue
  answer=$(timeout 3 redis-cli -h "$peer" -p 26379 --raw sentinel get-master-addr-by-name "$MASTER_SET" 2>/dev/null | head -n 1 || true)
  if [ -n "$answer" ]; then
    master="$answer"
    break
  fi
done
[ -n "$master" ] || master="${SERVICE}-0.${SERVICE}"
echo "init: master of ${MASTER_SET} is ${master}"

echo "replica-announce-ip ${SELF}" >>/conf/redis.conf
if [ "$master" != "$SELF" ]; then
  echo "replicaof ${master} 6379" >>/conf/redis.conf
fi

cat >>/conf/sentinel.conf <<CONF
sentinel announce-ip ${SELF}
sentinel monitor ${MASTER_SET} ${master} 6379 2
sentinel down-after-milliseconds ${MASTER_SET} 5000
sentinel failover-timeout ${MASTER_SET} 60000
sentinel parallel-syncs ${MASTER_SET} 1
CONF
