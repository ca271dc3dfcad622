{{- define "hw.fullname" -}}
{{- printf "%s-hybridwatch" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "hw.labels" -}}
app.kubernetes.io/name: hybridwatch
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: hybridwatch
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hw.selector" -}}
app.kubernetes.io/name: hybridwatch
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hw.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "hw.secretName" -}}
{{- default (printf "%s-secrets" (include "hw.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Settings every role reads: the env ConfigMap and the Secret (HW_* variables). */}}
{{- define "hw.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "hw.fullname" . }}-env
  - secretRef:
      name: {{ include "hw.secretName" . }}
{{- end -}}

{{/* Liveness/readiness of a Kafka role: its /metrics endpoint answers. */}}
{{- define "hw.metricsProbes" -}}
ports:
  - name: metrics
    containerPort: {{ .Values.metricsPort }}
readinessProbe:
  httpGet: { path: /metrics, port: metrics }
  initialDelaySeconds: 10
  periodSeconds: 10
livenessProbe:
  httpGet: { path: /metrics, port: metrics }
  initialDelaySeconds: 60
  periodSeconds: 20
  failureThreshold: 6
{{- end -}}

{{- define "hw.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  fsGroup: 10001
{{- end -}}
