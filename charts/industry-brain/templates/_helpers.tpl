{{/*
Names, labels and the generated brain configuration shared by every template.
*/}}

{{- define "industry-brain.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release + chart, unless the release name already contains the chart name.
Kept to 40 characters so that "-<service>-headless" suffixes stay within 63.
*/}}
{{- define "industry-brain.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "industry-brain.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object. Selectors use only "industry-brain.selectorLabels".
*/}}
{{- define "industry-brain.labels" -}}
helm.sh/chart: {{ include "industry-brain.chart" . }}
{{ include "industry-brain.selectorLabels" . }}
app.kubernetes.io/version: {{ include "industry-brain.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: industry-brain
industry-brain.io/industry: {{ .Values.industry.code | quote }}
industry-brain.io/role: {{ .Values.role | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "industry-brain.selectorLabels" -}}
app.kubernetes.io/name: {{ include "industry-brain.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component: call with (dict "root" $ "component" "ingestion").
*/}}
{{- define "industry-brain.componentLabels" -}}
{{ include "industry-brain.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "industry-brain.componentSelectorLabels" -}}
{{ include "industry-brain.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "industry-brain.annotations" -}}
{{- with .Values.commonAnnotations }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{- define "industry-brain.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "industry-brain.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (include "industry-brain.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The services block keys in the order of `brain --list-targets`, with their target names.
*/}}
{{- define "industry-brain.serviceKeys" -}}
ingestion governance computeScheduler modelGateway serviceOpening portalApi evaluation trust
{{- end }}

{{/*
Enabled services as a JSON list of {key, target} objects (templates loop over it).
*/}}
{{- define "industry-brain.enabledServices" -}}
{{- $out := list }}
{{- range $key := splitList " " (include "industry-brain.serviceKeys" .) }}
{{- $svc := index $.Values.services $key }}
{{- if $svc.enabled }}
{{- $out = append $out (dict "key" $key "target" (kebabcase $key)) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{- define "industry-brain.anyServiceEnabled" -}}
{{- if gt (len (include "industry-brain.enabledServices" . | fromJsonArray)) 0 }}true{{- end }}
{{- end }}

{{/*
The --target value of the monolith: `all` when every service is enabled.
*/}}
{{- define "industry-brain.monolithTarget" -}}
{{- $enabled := include "industry-brain.enabledServices" . | fromJsonArray }}
{{- $all := splitList " " (include "industry-brain.serviceKeys" .) }}
{{- if eq (len $enabled) (len $all) }}all{{- else }}
{{- $targets := list }}
{{- range $enabled }}{{- $targets = append $targets .target }}{{- end }}
{{- join "," $targets }}
{{- end }}
{{- end }}

{{- define "industry-brain.topicPrefix" -}}
{{- default (printf "brain-%s" .Values.industry.code) .Values.topicPrefix }}
{{- end }}

{{/*
Name of the Service that serves a target: the monolith's, or the target's own.
*/}}
{{- define "industry-brain.serviceName" -}}
{{- if eq .root.Values.deploymentMode "Monolithic" }}
{{- include "industry-brain.fullname" .root }}
{{- else }}
{{- printf "%s-%s" (include "industry-brain.fullname" .root) .target }}
{{- end }}
{{- end }}

{{- define "industry-brain.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "industry-brain.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "industry-brain.schedulerServiceAccountName" -}}
{{- printf "%s-compute-scheduler" (include "industry-brain.fullname" .) }}
{{- end }}

{{/*
Where the trust layer's keys are mounted (a projected volume of the referenced Secrets).
*/}}
{{- define "industry-brain.keysDir" -}}/etc/brain/keys{{- end }}

{{/*
"true" when the brain may generate its signing keys and the first administrator's password
on first start: one Monolithic replica whose data directory is a PersistentVolumeClaim, so
the generated files outlive the pod and no other pod needs them. Everywhere else pods must
share the keys, so they come from Secrets.
*/}}
{{- define "industry-brain.keysOnVolume" -}}
{{- $v := .Values -}}
{{- if and (eq $v.deploymentMode "Monolithic") $v.monolithic.persistence.enabled (le (int $v.monolithic.replicas) 1) }}true{{- end }}
{{- end }}

{{/*
Cross-field rules JSON schema cannot express with a clear message: fail rendering with one.
*/}}
{{- define "industry-brain.validate" -}}
{{- $v := .Values -}}
{{- if and $v.computeTarget.enabled $v.services.trust.enabled (eq (len (include "industry-brain.enabledServices" . | fromJsonArray)) 1) }}
{{- fail "computeTarget.enabled with only services.trust enabled: a compute-target release runs no brain; set services.trust.enabled=false like the other services (the trust service arrived in chart 0.2.0, enabled by default)" }}
{{- end }}
{{- if and (eq $v.deploymentMode "Distributed") (include "industry-brain.anyServiceEnabled" .) }}
{{- if not $v.kafka.enabled }}
{{- fail "deploymentMode Distributed needs kafka.enabled=true: the embedded event log cannot be shared between pods" }}
{{- end }}
{{- if not $v.postgresql.enabled }}
{{- fail "deploymentMode Distributed needs postgresql.enabled=true: embedded SQLite cannot be shared between pods" }}
{{- end }}
{{- if and $v.services.modelGateway.enabled (not $v.redis.enabled) }}
{{- fail "deploymentMode Distributed with services.modelGateway.enabled needs redis.enabled=true: quotas must be shared between replicas" }}
{{- end }}
{{- end }}
{{- if and (eq $v.deploymentMode "Monolithic") (gt (int $v.monolithic.replicas) 1) }}
{{- if not (and $v.kafka.enabled $v.postgresql.enabled $v.redis.enabled) }}
{{- fail "monolithic.replicas above 1 needs kafka, postgresql and redis enabled: embedded backends have one writer" }}
{{- end }}
{{- end }}
{{- if and $v.kafka.enabled (empty $v.kafka.bootstrapServers) }}
{{- fail "kafka.enabled needs kafka.bootstrapServers (host:port entries)" }}
{{- end }}
{{- if and $v.postgresql.enabled (empty $v.postgresql.host) }}
{{- fail "postgresql.enabled needs postgresql.host" }}
{{- end }}
{{- if and $v.redis.enabled (empty $v.redis.host) }}
{{- fail "redis.enabled needs redis.host" }}
{{- end }}
{{- if and $v.postgresql.tls.enabled (empty $v.postgresql.tls.existingSecret) }}
{{- fail "postgresql.tls.enabled needs postgresql.tls.existingSecret (a Secret with ca.crt)" }}
{{- end }}
{{- if and $v.kafka.sasl.enabled (or (empty $v.kafka.sasl.username) (empty $v.kafka.sasl.existingSecret)) }}
{{- fail "kafka.sasl.enabled needs kafka.sasl.username and kafka.sasl.existingSecret (the password)" }}
{{- end }}
{{- if and $v.kafka.tls.enabled (empty $v.kafka.tls.existingSecret) }}
{{- fail "kafka.tls.enabled needs kafka.tls.existingSecret (a Secret with ca.crt)" }}
{{- end }}
{{- if and $v.redis.tls.enabled (empty $v.redis.tls.existingSecret) }}
{{- fail "redis.tls.enabled needs redis.tls.existingSecret (a Secret with ca.crt)" }}
{{- end }}
{{- if $v.mtls.enabled }}
{{- if and $v.mtls.certManager.enabled (empty $v.mtls.certManager.issuerRef.name) }}
{{- fail "mtls.enabled with mtls.certManager.enabled needs mtls.certManager.issuerRef.name" }}
{{- end }}
{{- if and (not $v.mtls.certManager.enabled) (empty $v.mtls.existingSecret) }}
{{- fail "mtls.enabled without cert-manager needs mtls.existingSecret (tls.crt, tls.key, ca.crt)" }}
{{- end }}
{{- end }}
{{- if include "industry-brain.anyServiceEnabled" . }}
{{- $shared := "Distributed mode, more than one monolith replica, or monolithic.persistence.enabled=false" }}
{{- if not (include "industry-brain.keysOnVolume" .) }}
{{- if empty $v.trust.jwtSigningKey.existingSecret }}
{{- fail (printf "trust.jwtSigningKey.existingSecret is required (%s): every brain pod verifies access tokens and signs service-to-service tokens with ONE Ed25519 key, so all pods must mount the same key from a Secret (a key generated per pod would make pods refuse each other's tokens). Create it: openssl genpkey -algorithm ed25519 -out jwt-signing.pem && kubectl -n %s create secret generic <name> --from-file=jwt-signing.pem" $shared .Release.Namespace) }}
{{- end }}
{{- if and $v.services.trust.enabled (empty $v.trust.ledgerSigningKey.existingSecret) }}
{{- fail (printf "trust.ledgerSigningKey.existingSecret is required (%s): the trust service signs ledger checkpoints and trusted-status reports with ONE long-lived Ed25519 key that every trust replica must share and that must never change (checkpoints signed by another key fail verification). Create it: openssl genpkey -algorithm ed25519 -out ledger-signing.pem && kubectl -n %s create secret generic <name> --from-file=ledger-signing.pem, and keep an offline copy" $shared .Release.Namespace) }}
{{- end }}
{{- if and $v.services.trust.enabled (empty $v.trust.bootstrapAdminPassword.existingSecret) }}
{{- fail (printf "trust.bootstrapAdminPassword.existingSecret is required (%s): without it the first administrator's random password would be written to one pod's emptyDir and lost with the pod. Create it (10+ characters, 3 of: lower, upper, digit, symbol): kubectl -n %s create secret generic <name> --from-literal=password=\"Adm-$(openssl rand -hex 16)\"" $shared .Release.Namespace) }}
{{- end }}
{{- end }}
{{- if and (not $v.services.trust.enabled) (empty (dig "common" "peers" "trust" "" $v.config)) }}
{{- fail "services.trust.enabled=false, but the other services need the trust service: it signs users in and resolves API keys (IdentityService.ResolveApiKey). Enable it, or point config.common.peers.trust at this brain's trust service (gRPC URL) and mount the same trust.jwtSigningKey" }}
{{- end }}
{{- end }}
{{- if $v.trust.benchmarkOnlyDisableAuthentication }}
{{- if or $v.ingress.portal.enabled $v.ingress.openaiApi.enabled }}
{{- fail "trust.benchmarkOnlyDisableAuthentication=true turns authentication, authorization and auditing off (every caller is the system administrator): it cannot be combined with an Ingress. Benchmark brains stay inside the cluster" }}
{{- end }}
{{- end }}
{{- $envLists := list $v.extraEnv }}
{{- range $key := splitList " " (include "industry-brain.serviceKeys" .) }}
{{- $envLists = append $envLists (index $v.services $key).extraEnv }}
{{- end }}
{{- range $list := $envLists }}
{{- range $list }}
{{- if eq .name "BRAIN_TRUST__ENFORCE" }}
{{- fail "extraEnv must not set BRAIN_TRUST__ENFORCE: authentication can only be switched off with trust.benchmarkOnlyDisableAuthentication, for benchmarks" }}
{{- end }}
{{- if and (eq .name "BRAIN_TRUST__BOOTSTRAP_ADMIN_PASSWORD") (hasKey . "value") }}
{{- fail "extraEnv must not carry BRAIN_TRUST__BOOTSTRAP_ADMIN_PASSWORD as a plain value: reference a Secret with trust.bootstrapAdminPassword.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}
{{- range $key := splitList " " (include "industry-brain.serviceKeys" .) }}
{{- $svc := index $v.services $key }}
{{- if and $svc.enabled $svc.autoscaling.enabled $svc.keda.enabled }}
{{- fail (printf "services.%s: enable either autoscaling (HPA) or keda, not both: KEDA manages its own HPA" $key) }}
{{- end }}
{{- if and $svc.enabled $svc.keda.enabled (not $v.kafka.enabled) }}
{{- fail (printf "services.%s.keda needs kafka.enabled: it scales on Kafka consumer lag" $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The brain configuration file (crates/brain-config): values.config underneath, the keys the
chart owns on top. Secrets never appear here; see "industry-brain.env".
*/}}
{{- define "industry-brain.config" -}}
{{- $v := .Values -}}
{{- $common := dict
  "role" $v.role
  "industry" (dict "code" $v.industry.code "name" $v.industry.name "region" $v.industry.region)
  "data_dir" "/var/lib/brain"
  "http_addr" (printf "0.0.0.0:%d" (int $v.ports.http))
  "grpc_addr" (printf "0.0.0.0:%d" (int $v.ports.grpc))
  "topic_prefix" (include "industry-brain.topicPrefix" .)
  "log_format" "json"
  "log_level" $v.logLevel
  "shutdown_grace_seconds" (int $v.shutdownGraceSeconds)
}}
{{- if $v.postgresql.enabled }}
{{- $_ := set $common "database" (printf "postgres://%s@%s:%d/%s" $v.postgresql.username $v.postgresql.host (int $v.postgresql.port) $v.postgresql.database) }}
{{- end }}
{{- if $v.kafka.enabled }}
{{- $_ := set $common "bus" (printf "kafka://%s" (join "," $v.kafka.bootstrapServers)) }}
{{- else }}
{{- $_ := set $common "bus" "embedded" }}
{{- end }}
{{- if and $v.redis.enabled (empty $v.redis.auth.existingSecret) }}
{{- $_ := set $common "cache" (include "industry-brain.redisUrl" (dict "root" . "password" "")) }}
{{- else if not $v.redis.enabled }}
{{- $_ := set $common "cache" "memory://" }}
{{- end }}
{{- if and $v.peers.enabled (eq $v.deploymentMode "Distributed") }}
{{- $peers := dict }}
{{- range $s := include "industry-brain.enabledServices" . | fromJsonArray }}
{{- $_ := set $peers (replace "-" "_" $s.target) (printf "%s://%s-%s:%d" (ternary "https" "http" $v.mtls.enabled) (include "industry-brain.fullname" $) $s.target (int $v.ports.grpc)) }}
{{- end }}
{{- $_ := set $common "peers" $peers }}
{{- end }}
{{- if $v.mtls.enabled }}
{{- $_ := set $common "tls" (dict
  "cert_file" "/etc/brain/tls/service/tls.crt"
  "key_file" "/etc/brain/tls/service/tls.key"
  "ca_file" "/etc/brain/tls/service/ca.crt"
  "client_auth" (lower $v.mtls.clientAuth)
  "reload_seconds" (int $v.mtls.reloadSeconds)
) }}
{{- end }}
{{- $generated := dict "common" $common }}
{{- $trust := dict }}
{{- if $v.trust.jwtSigningKey.existingSecret }}
{{- $_ := set $trust "jwt_signing_key_file" (printf "%s/jwt-signing.pem" (include "industry-brain.keysDir" .)) }}
{{- end }}
{{- if and $v.services.trust.enabled $v.trust.ledgerSigningKey.existingSecret }}
{{- $_ := set $trust "ledger_signing_key_file" (printf "%s/ledger-signing.pem" (include "industry-brain.keysDir" .)) }}
{{- end }}
{{- if $v.trust.benchmarkOnlyDisableAuthentication }}
{{- $_ := set $trust "enforce" false }}
{{- end }}
{{- if $trust }}
{{- $_ := set $generated "trust" $trust }}
{{- end }}
{{- if and $v.kafka.enabled (or $v.kafka.tls.enabled $v.kafka.sasl.enabled) }}
{{- $security := dict "protocol" (ternary (ternary "sasl_ssl" "ssl" $v.kafka.sasl.enabled) "sasl_plaintext" $v.kafka.tls.enabled) }}
{{- if $v.kafka.tls.enabled }}
{{- $_ := set $security "ssl_ca_location" "/etc/brain/tls/kafka/ca.crt" }}
{{- if $v.kafka.tls.clientCertificate }}
{{- $_ := set $security "ssl_certificate_location" "/etc/brain/tls/kafka/tls.crt" }}
{{- $_ := set $security "ssl_key_location" "/etc/brain/tls/kafka/tls.key" }}
{{- end }}
{{- end }}
{{- if $v.kafka.sasl.enabled }}
{{- $_ := set $security "sasl_mechanism" $v.kafka.sasl.mechanism }}
{{- $_ := set $security "sasl_username" $v.kafka.sasl.username }}
{{- end }}
{{- $_ := set $generated "bus" (dict "kafka_security" $security) }}
{{- end }}
{{- $merged := mustMergeOverwrite (deepCopy $v.config) $generated }}
{{- toYaml $merged }}
{{- end }}

{{/*
Redis URL; call with (dict "root" $ "password" "$(REDIS_PASSWORD)" or "").
*/}}
{{- define "industry-brain.redisUrl" -}}
{{- $r := .root.Values.redis }}
{{- $scheme := ternary "rediss" "redis" $r.tls.enabled }}
{{- if .password }}
{{- printf "%s://:%s@%s:%d/%d" $scheme .password $r.host (int $r.port) (int $r.db) }}
{{- else }}
{{- printf "%s://%s:%d/%d" $scheme $r.host (int $r.port) (int $r.db) }}
{{- end }}
{{- end }}

{{/*
Environment of a brain container; call with (dict "root" $ "component" "ingestion" "extraEnv" list
"trust" bool) — trust: the pod runs the trust service (it alone gets the bootstrap password).
*/}}
{{- define "industry-brain.env" -}}
{{- $v := .root.Values -}}
- name: BRAIN_CONFIG
  value: /etc/brain/brain.yaml
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if $v.postgresql.enabled }}
{{- with $v.postgresql.auth.existingSecret }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.postgresql.auth.passwordKey }}
{{- end }}
{{- if $v.postgresql.tls.enabled }}
- name: PGSSLMODE
  value: {{ $v.postgresql.tls.mode }}
- name: PGSSLROOTCERT
  value: /etc/brain/tls/postgresql/ca.crt
{{- if $v.postgresql.tls.clientCertificate }}
- name: PGSSLCERT
  value: /etc/brain/tls/postgresql/tls.crt
- name: PGSSLKEY
  value: /etc/brain/tls/postgresql/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.kafka.enabled $v.kafka.sasl.enabled }}
- name: BRAIN_BUS__KAFKA_SECURITY__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.sasl.existingSecret }}
      key: {{ $v.kafka.sasl.passwordKey }}
{{- end }}
{{- if and $v.redis.enabled $v.redis.auth.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.auth.existingSecret }}
      key: {{ $v.redis.auth.passwordKey }}
- name: BRAIN_COMMON__CACHE
  value: {{ include "industry-brain.redisUrl" (dict "root" .root "password" "$(REDIS_PASSWORD)") | quote }}
{{- end }}
{{- if and .trust $v.trust.bootstrapAdminPassword.existingSecret }}
- name: BRAIN_TRUST__BOOTSTRAP_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.trust.bootstrapAdminPassword.existingSecret }}
      key: {{ $v.trust.bootstrapAdminPassword.key }}
{{- end }}
{{- if $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
{{- $attrs := list (printf "k8s.namespace.name=$(POD_NAMESPACE)") "k8s.pod.name=$(POD_NAME)" (printf "brain.component=%s" .component) }}
{{- range $k, $val := $v.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $k $val) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volume mounts of a brain container; call with (dict "root" $ "trust" bool).
*/}}
{{- define "industry-brain.volumeMounts" -}}
{{- $v := .root.Values -}}
- name: config
  mountPath: /etc/brain/brain.yaml
  subPath: brain.yaml
  readOnly: true
- name: data
  mountPath: /var/lib/brain
- name: tmp
  mountPath: /tmp
{{- if $v.postgresql.tls.enabled }}
- name: tls-postgresql
  mountPath: /etc/brain/tls/postgresql
  readOnly: true
{{- end }}
{{- if $v.kafka.tls.enabled }}
- name: tls-kafka
  mountPath: /etc/brain/tls/kafka
  readOnly: true
{{- end }}
{{- if $v.redis.tls.enabled }}
- name: tls-redis
  mountPath: /etc/brain/tls/redis
  readOnly: true
{{- end }}
{{- if $v.mtls.enabled }}
- name: tls-service
  mountPath: /etc/brain/tls/service
  readOnly: true
{{- end }}
{{- if include "industry-brain.mountsKeys" . }}
- name: signing-keys
  mountPath: {{ include "industry-brain.keysDir" .root }}
  readOnly: true
{{- end }}
{{- with $v.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes of a brain pod except `data` (a PVC in the monolith, an emptyDir otherwise);
call with (dict "root" $ "component" "ingestion" "trust" bool).
*/}}
{{- define "industry-brain.volumes" -}}
{{- $v := .root.Values -}}
- name: config
  configMap:
    name: {{ include "industry-brain.fullname" .root }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if $v.postgresql.tls.enabled }}
- name: tls-postgresql
  secret:
    secretName: {{ $v.postgresql.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if $v.kafka.tls.enabled }}
- name: tls-kafka
  secret:
    secretName: {{ $v.kafka.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if $v.redis.tls.enabled }}
- name: tls-redis
  secret:
    secretName: {{ $v.redis.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if $v.mtls.enabled }}
- name: tls-service
  secret:
    secretName: {{ include "industry-brain.mtlsSecretName" . }}
    defaultMode: 0440
{{- end }}
{{- if include "industry-brain.mountsKeys" . }}
{{- /* Every pod: the JWT key; the trust service's pods: the ledger key too. */}}
- name: signing-keys
  projected:
    defaultMode: 0440
    sources:
      {{- with $v.trust.jwtSigningKey.existingSecret }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $v.trust.jwtSigningKey.key }}
              path: jwt-signing.pem
      {{- end }}
      {{- if and .trust $v.trust.ledgerSigningKey.existingSecret }}
      - secret:
          name: {{ $v.trust.ledgerSigningKey.existingSecret }}
          items:
            - key: {{ $v.trust.ledgerSigningKey.key }}
              path: ledger-signing.pem
      {{- end }}
{{- end }}
{{- with $v.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
"true" when a pod mounts the signing-keys volume; call with (dict "root" $ "trust" bool).
*/}}
{{- define "industry-brain.mountsKeys" -}}
{{- $t := .root.Values.trust -}}
{{- if or $t.jwtSigningKey.existingSecret (and .trust $t.ledgerSigningKey.existingSecret) }}true{{- end }}
{{- end }}

{{- define "industry-brain.mtlsSecretName" -}}
{{- if .root.Values.mtls.certManager.enabled }}
{{- printf "%s-%s-tls" (include "industry-brain.fullname" .root) .component }}
{{- else }}
{{- .root.Values.mtls.existingSecret }}
{{- end }}
{{- end }}

{{/*
The brain container; call with (dict "root" $ "component" "ingestion" "target" "ingestion"
"resources" {...} "extraEnv" list "trust" bool).
*/}}
{{- define "industry-brain.container" -}}
{{- $v := .root.Values -}}
- name: brain
  image: {{ include "industry-brain.image" .root }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    - serve
    - --target={{ .target }}
  env:
    {{- include "industry-brain.env" . | nindent 4 }}
  {{- with $v.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: http
      containerPort: {{ $v.ports.http }}
      protocol: TCP
    - name: grpc
      containerPort: {{ $v.ports.grpc }}
      protocol: TCP
  {{- if $v.probes.startup.enabled }}
  startupProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: {{ $v.probes.startup.periodSeconds }}
    failureThreshold: {{ $v.probes.startup.failureThreshold }}
  {{- end }}
  {{- if $v.probes.liveness.enabled }}
  livenessProbe:
    {{- if $v.mtls.enabled }}
    {{- /* The kubelet's gRPC probe cannot speak TLS. */}}
    httpGet:
      path: /healthz
      port: http
    {{- else }}
    grpc:
      port: {{ $v.ports.grpc }}
    {{- end }}
    periodSeconds: {{ $v.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ $v.probes.liveness.failureThreshold }}
  {{- end }}
  {{- if $v.probes.readiness.enabled }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: http
    periodSeconds: {{ $v.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ $v.probes.readiness.failureThreshold }}
  {{- end }}
  {{- if gt (int $v.preStopSleepSeconds) 0 }}
  lifecycle:
    preStop:
      sleep:
        seconds: {{ $v.preStopSleepSeconds }}
  {{- end }}
  {{- with .resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    {{- include "industry-brain.volumeMounts" (dict "root" .root "trust" .trust) | nindent 4 }}
{{- end }}

{{/*
Pod-level fields shared by the StatefulSet and the Deployments; call with (dict "root" $
"component" "ingestion" "serviceAccountName" "…" "automountToken" bool "scheduling" $svc).
*/}}
{{- define "industry-brain.podSpecCommon" -}}
{{- $v := .root.Values -}}
serviceAccountName: {{ .serviceAccountName }}
automountServiceAccountToken: {{ .automountToken }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
terminationGracePeriodSeconds: {{ add (int $v.shutdownGraceSeconds) (int $v.preStopSleepSeconds) 10 }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with .scheduling.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .scheduling.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .scheduling.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range $v.topologySpreadConstraints }}
  - {{- toYaml (omit . "labelSelector") | nindent 4 }}
    labelSelector:
      matchLabels:
        {{- if .labelSelector }}
        {{- toYaml .labelSelector.matchLabels | nindent 8 }}
        {{- else }}
        {{- include "industry-brain.componentSelectorLabels" $ | nindent 8 }}
        {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Pod annotations: config checksum (rolls pods on config change) and scrape hints.
*/}}
{{- define "industry-brain.podAnnotations" -}}
checksum/config: {{ include "industry-brain.config" .root | sha256sum }}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .root.Values.ports.http | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
grpcurl's transport flags in the `helm test` pod: the first component's certificate with mtls.
*/}}
{{- define "industry-brain.grpcurlTransport" -}}
{{- if .Values.mtls.enabled }}
- -cacert
- /etc/brain/tls/service/ca.crt
- -cert
- /etc/brain/tls/service/tls.crt
- -key
- /etc/brain/tls/service/tls.key
{{- else }}
- -plaintext
{{- end }}
{{- end }}
