{{/* Names, labels and shared pieces of the Tenantry chart. */}}

{{- define "tenantry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tenantry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tenantry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The API pods. The component keeps the migration job's pods out of the Service's and the
Deployment's selection. */}}
{{- define "tenantry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end }}

{{- define "tenantry.commonLabels" -}}
helm.sh/chart: {{ include "tenantry.chart" . }}
app.kubernetes.io/name: {{ include "tenantry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tenantry
{{- end }}

{{- define "tenantry.labels" -}}
{{ include "tenantry.commonLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "tenantry.migrationLabels" -}}
{{ include "tenantry.commonLabels" . }}
app.kubernetes.io/component: migrations
{{- end }}

{{- define "tenantry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tenantry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image by digest when one is given, else by tag (the chart's appVersion by default). */}}
{{- define "tenantry.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "tenantry.secretName" -}}
{{- default (include "tenantry.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* ConfigMap data, shared by the app's ConfigMap and the migration hook's copy. */}}
{{- define "tenantry.configData" -}}
{{- range $key, $value := .Values.config }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Secret data: only the secrets that are set, so a missing one is reported by the service's
own start-up check ("production mode needs TENANTRY_DATABASE_URL, ...") rather than as an
empty value. */}}
{{- define "tenantry.secretData" -}}
{{- $secrets := dict
  "TENANTRY_DATABASE_URL" .Values.secrets.databaseUrl
  "TENANTRY_SIGNING_KEYS" .Values.secrets.signingKeys
  "TENANTRY_SMTP_PASSWORD" .Values.secrets.smtpPassword
  "TENANTRY_RATE_LIMIT_URL" .Values.secrets.rateLimitUrl
  "TENANTRY_METRICS_TOKEN" .Values.secrets.metricsToken }}
{{- range $key := keys $secrets | sortAlpha }}
{{- with get $secrets $key }}
{{ $key }}: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The container environment of the app and of the migration job. */}}
{{- define "tenantry.envFrom" -}}
- configMapRef:
    name: {{ .configMap }}
- secretRef:
    name: {{ .secret }}
{{- end }}

{{- define "tenantry.podSecurity" -}}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
