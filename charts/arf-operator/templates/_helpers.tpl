{{- define "arf.name" -}}arf-operator{{- end -}}

{{/* What the Deployment selects its Pods by; Services, monitors, PDB and NetworkPolicy select the same. */}}
{{- define "arf.selectorLabels" -}}
app.kubernetes.io/name: arf-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object's labels: the chart's own, then additionalLabels (which never override the chart's). */}}
{{- define "arf.labels" -}}
{{- include "arf.labelsWith" (dict "context" . "extra" (dict)) -}}
{{- end -}}

{{/* The chart's labels, then the object's own extra labels, then additionalLabels; earlier ones win. */}}
{{- define "arf.labelsWith" -}}
{{- $context := .context -}}
{{- $labels := dict
  "app.kubernetes.io/name" "arf-operator"
  "app.kubernetes.io/instance" $context.Release.Name
  "app.kubernetes.io/version" $context.Chart.AppVersion
  "arf.dev/edition" $context.Values.edition
-}}
{{- $labels = merge $labels (deepCopy (.extra | default dict)) (deepCopy $context.Values.additionalLabels) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* A count (values hold numbers as floats) or a percentage string. */}}
{{- define "arf.intOrPercent" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ int . }}{{ end -}}
{{- end -}}

{{- define "arf.subjects" -}}
- kind: ServiceAccount
  name: arf-operator
  namespace: {{ .Release.Namespace }}
{{- range .Values.rbac.extraUsers }}
- kind: User
  apiGroup: rbac.authorization.k8s.io
  name: {{ . }}
{{- end }}
{{- end -}}
