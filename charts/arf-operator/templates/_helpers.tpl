{{- define "arf.name" -}}arf-operator{{- end -}}
{{- define "arf.labels" -}}
app.kubernetes.io/name: arf-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
arf.dev/edition: {{ .Values.edition }}
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
