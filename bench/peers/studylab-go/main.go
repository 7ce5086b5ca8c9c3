// Command studylab-go is the benchmark's peer: the StudyLab reconciler written
// the way a controller-runtime operator is usually written, so the TypeScript
// operator can be measured against it on the same work.
//
// It implements only the lab shape the benchmark creates (bench/README.md):
// spec.app with image, replicas and ports; the default ClusterIP Service on
// the app's ports; spec.storage (size, accessModes, mountPath, Retain or
// Delete); spec.networkPolicy.ingress. For that shape it produces the same
// children (names, labels, selectors, owner references, the same intent-hash
// annotation) and the same status (observedGeneration, phase, replicas,
// endpoint, conditions with the same reasons and messages) as
// src/studylab/builders/*.ts and src/studylab/status.ts. No validation,
// pausing, deletion of unwanted children, drift back-off or storage refusals.
//
// What is idiomatic controller-runtime, and deliberately not copied from the
// TypeScript operator: every reconcile server-side applies every child
// (client.Apply with ForceOwnership under its own field manager), and status
// is applied only when it differs (equality.Semantic.DeepEqual).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

const (
	fieldManager      = "studylab-go-peer"
	intentHashKey     = "studylab.io/intent-hash"
	nameLabel         = "app.kubernetes.io/name"
	instanceLabel     = "app.kubernetes.io/instance"
	managedByLabel    = "app.kubernetes.io/managed-by"
	nameValue         = "studylab"
	managedByValue    = "studylab-operator"
	containerName     = "app"
	dataVolumeName    = "data"
	defaultMountPath  = "/data"
	defaultRetention  = "Retain"
	clusterDomain     = "cluster.local"
	claimPendingText  = "waiting for a PersistentVolume: with a WaitForFirstConsumer StorageClass the claim binds once a pod is scheduled; without a default StorageClass it never does"
	controllerNameStr = "studylab"
)

var groupVersion = schema.GroupVersion{Group: "studylab.io", Version: "v1alpha1"}

// --- API types (the bench's subset) ---------------------------------------------------------

type StudyLab struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              LabSpec    `json:"spec"`
	Status            *LabStatus `json:"status,omitempty"`
}

type LabSpec struct {
	App           *AppSpec           `json:"app,omitempty"`
	Storage       *StorageSpec       `json:"storage,omitempty"`
	NetworkPolicy *NetworkPolicySpec `json:"networkPolicy,omitempty"`
	Paused        bool               `json:"paused,omitempty"`
}

type AppSpec struct {
	Image    string     `json:"image"`
	Replicas *int32     `json:"replicas,omitempty"`
	Ports    []PortSpec `json:"ports,omitempty"`
}

type PortSpec struct {
	Name          string `json:"name"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
}

type StorageSpec struct {
	Size             string   `json:"size"`
	StorageClassName *string  `json:"storageClassName,omitempty"`
	AccessModes      []string `json:"accessModes,omitempty"`
	MountPath        string   `json:"mountPath,omitempty"`
	RetentionPolicy  string   `json:"retentionPolicy,omitempty"`
}

type NetworkPolicySpec struct {
	// Kept as the API server sent them: the rules are copied into the child unchanged.
	Ingress []map[string]interface{} `json:"ingress,omitempty"`
}

type LabStatus struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Phase              string             `json:"phase,omitempty"`
	Replicas           *int32             `json:"replicas,omitempty"`
	ReadyReplicas      *int32             `json:"readyReplicas,omitempty"`
	Endpoint           string             `json:"endpoint,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

type StudyLabList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StudyLab `json:"items"`
}

// Hand-written deep copies (controller-gen is not part of this build): a JSON
// round trip, which is slower than generated code but only runs on cache reads.
func jsonCopy[T any](in *T) *T {
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

func (in *StudyLab) DeepCopyObject() runtime.Object     { return jsonCopy(in) }
func (in *StudyLabList) DeepCopyObject() runtime.Object { return jsonCopy(in) }

// --- builders (mirror src/studylab/builders) ------------------------------------------------

type obj = map[string]interface{}

func selectorLabels(name string) obj {
	return obj{nameLabel: nameValue, instanceLabel: name}
}

func childLabels(name string) obj {
	return obj{nameLabel: nameValue, instanceLabel: name, managedByLabel: managedByValue}
}

func childMetadata(lab *StudyLab, owned bool) obj {
	meta := obj{"name": lab.Name, "namespace": lab.Namespace, "labels": childLabels(lab.Name)}
	if owned {
		meta["ownerReferences"] = []interface{}{obj{
			"apiVersion":         groupVersion.String(),
			"kind":               "StudyLab",
			"name":               lab.Name,
			"uid":                string(lab.UID),
			"controller":         true,
			"blockOwnerDeletion": true,
		}}
	}
	return meta
}

func protocolOf(p PortSpec) string {
	if p.Protocol == "" {
		return "TCP"
	}
	return p.Protocol
}

func buildDeployment(lab *StudyLab) obj {
	app := lab.Spec.App
	spec := obj{
		"selector": obj{"matchLabels": selectorLabels(lab.Name)},
		"strategy": obj{"type": "RollingUpdate", "rollingUpdate": obj{}},
	}
	if app.Replicas != nil {
		spec["replicas"] = int64(*app.Replicas)
	}
	container := obj{
		"name":  containerName,
		"image": app.Image,
		"securityContext": obj{
			"runAsNonRoot":             true,
			"allowPrivilegeEscalation": false,
			"capabilities":             obj{"drop": []interface{}{"ALL"}},
			"seccompProfile":           obj{"type": "RuntimeDefault"},
		},
	}
	if len(app.Ports) > 0 {
		ports := []interface{}{}
		for _, p := range app.Ports {
			ports = append(ports, obj{"name": p.Name, "containerPort": int64(p.ContainerPort), "protocol": protocolOf(p)})
		}
		container["ports"] = ports
	}
	podSpec := obj{
		"securityContext": obj{"runAsNonRoot": true, "seccompProfile": obj{"type": "RuntimeDefault"}},
	}
	if s := lab.Spec.Storage; s != nil {
		mountPath := s.MountPath
		if mountPath == "" {
			mountPath = defaultMountPath
		}
		container["volumeMounts"] = []interface{}{obj{"name": dataVolumeName, "mountPath": mountPath}}
		podSpec["volumes"] = []interface{}{obj{"name": dataVolumeName, "persistentVolumeClaim": obj{"claimName": lab.Name}}}
	}
	podSpec["containers"] = []interface{}{container}
	spec["template"] = obj{"metadata": obj{"labels": childLabels(lab.Name)}, "spec": podSpec}
	return obj{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": childMetadata(lab, true), "spec": spec}
}

type servicePort struct {
	name     string
	port     int32
	protocol string
}

// The default ClusterIP Service: one port per app port, targeting the port's name.
func servicePortsOf(lab *StudyLab) []servicePort {
	var out []servicePort
	if lab.Spec.App == nil {
		return out
	}
	for _, p := range lab.Spec.App.Ports {
		out = append(out, servicePort{name: p.Name, port: p.ContainerPort, protocol: protocolOf(p)})
	}
	return out
}

func buildService(lab *StudyLab) obj {
	ports := []interface{}{}
	for _, p := range servicePortsOf(lab) {
		ports = append(ports, obj{"name": p.name, "port": int64(p.port), "targetPort": p.name, "protocol": p.protocol})
	}
	return obj{
		"apiVersion": "v1", "kind": "Service", "metadata": childMetadata(lab, true),
		"spec": obj{"type": "ClusterIP", "selector": selectorLabels(lab.Name), "ports": ports},
	}
}

func buildNetworkPolicy(lab *StudyLab) obj {
	np := lab.Spec.NetworkPolicy
	if np == nil {
		return nil
	}
	spec := obj{"podSelector": obj{"matchLabels": selectorLabels(lab.Name)}}
	policyTypes := []interface{}{}
	if np.Ingress != nil {
		policyTypes = append(policyTypes, "Ingress")
		rules := []interface{}{}
		for _, r := range np.Ingress {
			rules = append(rules, runtime.DeepCopyJSON(r))
		}
		spec["ingress"] = rules
	}
	spec["policyTypes"] = policyTypes
	return obj{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": childMetadata(lab, true), "spec": spec}
}

// The claim keeps the live claim's class and access modes (both immutable), as pvc.ts does.
func buildClaim(lab *StudyLab, existing *corev1.PersistentVolumeClaim) obj {
	s := lab.Spec.Storage
	retention := s.RetentionPolicy
	if retention == "" {
		retention = defaultRetention
	}
	modes := []interface{}{}
	wanted := s.AccessModes
	if len(wanted) == 0 {
		wanted = []string{"ReadWriteOnce"}
	}
	if existing != nil && len(existing.Spec.AccessModes) > 0 {
		for _, m := range existing.Spec.AccessModes {
			modes = append(modes, string(m))
		}
	} else {
		for _, m := range wanted {
			modes = append(modes, m)
		}
	}
	spec := obj{"accessModes": modes, "resources": obj{"requests": obj{"storage": s.Size}}}
	if existing != nil {
		if existing.Spec.StorageClassName != nil {
			spec["storageClassName"] = *existing.Spec.StorageClassName
		}
	} else if s.StorageClassName != nil {
		spec["storageClassName"] = *s.StorageClassName
	}
	return obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": childMetadata(lab, retention == "Delete"), "spec": spec}
}

// intentHash matches intent.ts: sha256 of the JSON with sorted keys (encoding/json sorts map keys), 16 hex digits.
func intentHash(intent obj) string {
	b, err := json.Marshal(intent)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

func withIntentHash(intent, basis obj) *unstructured.Unstructured {
	hash := intentHash(basis)
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(intent)}
	u.SetAnnotations(map[string]string{intentHashKey: hash})
	return u
}

// --- status (mirror src/studylab/status.ts for the bench's shape) ---------------------------

type verdict struct{ phase, reason, message string }

var phasePrecedence = []string{"Paused", "Invalid", "Degraded", "Pending", "Progressing", "Ready"}

type rollout struct{ state, message string }

func rolloutStateOf(d *appsv1.Deployment) rollout {
	s := d.Status
	if d.Generation > s.ObservedGeneration {
		return rollout{"progressing", fmt.Sprintf("waiting for the Deployment controller to observe generation %d", d.Generation)}
	}
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			msg := "the rollout exceeded its progress deadline"
			if c.Message != "" {
				msg += ": " + c.Message
			}
			return rollout{"stalled", msg}
		}
	}
	updated := s.UpdatedReplicas
	if d.Spec.Replicas != nil && updated < *d.Spec.Replicas {
		return rollout{"progressing", fmt.Sprintf("rolling out: %d of %d new pods updated", updated, *d.Spec.Replicas)}
	}
	if s.Replicas > updated {
		return rollout{"progressing", fmt.Sprintf("rolling out: %d old pods pending termination", s.Replicas-updated)}
	}
	if s.AvailableReplicas < updated {
		return rollout{"progressing", fmt.Sprintf("rolling out: %d of %d updated pods available", s.AvailableReplicas, updated)}
	}
	return rollout{"complete", fmt.Sprintf("rolled out: %d of %d pods updated and available", updated, updated)}
}

func claimStateOf(pvc *corev1.PersistentVolumeClaim, name string) (string, string) {
	if pvc == nil {
		return "ClaimNotFound", fmt.Sprintf("PersistentVolumeClaim %s does not exist yet", name)
	}
	volume := pvc.Spec.VolumeName
	if volume == "" {
		volume = "?"
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		msg := "bound to PersistentVolume " + volume
		capacity, hasCap := pvc.Status.Capacity[corev1.ResourceStorage]
		requested, hasReq := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if hasCap {
			msg += " with a capacity of " + capacity.String()
		}
		if hasCap && hasReq && capacity.String() != requested.String() {
			msg += fmt.Sprintf(" (%s requested: expanding)", requested.String())
		}
		return "ClaimBound", msg
	case corev1.ClaimLost:
		msg := "the claim lost its PersistentVolume"
		if pvc.Spec.VolumeName != "" {
			msg += " " + pvc.Spec.VolumeName
		}
		return "ClaimLost", msg + ": its data cannot be reached"
	default:
		return "ClaimPending", claimPendingText
	}
}

type observed struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pvc        *corev1.PersistentVolumeClaim
}

func endpointOf(lab *StudyLab) string {
	host := fmt.Sprintf("%s.%s.svc.%s", lab.Name, lab.Namespace, clusterDomain)
	ports := servicePortsOf(lab)
	if len(ports) == 0 {
		return host
	}
	return fmt.Sprintf("%s:%d", host, ports[0].port)
}

func int32Or(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}

func computeStatus(lab *StudyLab, o observed, now time.Time) *LabStatus {
	gen := lab.Generation
	var verdicts []verdict
	if lab.Spec.App != nil {
		if o.deployment == nil {
			verdicts = append(verdicts, verdict{"Pending", "DeploymentNotFound", fmt.Sprintf("Deployment %s does not exist yet", lab.Name)})
		} else {
			r := rolloutStateOf(o.deployment)
			if r.state == "stalled" {
				verdicts = append(verdicts, verdict{"Degraded", "ProgressDeadlineExceeded", r.message})
			}
			if r.state == "progressing" {
				verdicts = append(verdicts, verdict{"Progressing", "RolloutInProgress", r.message})
			}
		}
	}
	if o.service == nil {
		verdicts = append(verdicts, verdict{"Pending", "ServiceNotFound", fmt.Sprintf("Service %s does not exist yet", lab.Name)})
	}
	if lab.Spec.Storage != nil {
		reason, msg := claimStateOf(o.pvc, lab.Name)
		phase := map[string]string{"ClaimNotFound": "Pending", "ClaimLost": "Degraded", "ClaimPending": "Progressing"}[reason]
		if phase != "" {
			verdicts = append(verdicts, verdict{phase, reason, msg})
		}
	}
	decided := verdict{"Ready", "LabReady", ""}
	for _, p := range phasePrecedence {
		found := false
		for _, v := range verdicts {
			if v.phase == p {
				decided, found = v, true
				break
			}
		}
		if found {
			break
		}
	}
	endpoint := endpointOf(lab)

	type update struct{ typ, status, reason, message string }
	var updates []update
	if decided.phase != "Ready" {
		updates = append(updates, update{"Ready", "False", decided.reason, decided.message})
	} else {
		var parts []string
		if lab.Spec.App != nil {
			var ready, desired int32 = 0, 1
			if o.deployment != nil {
				ready = o.deployment.Status.ReadyReplicas
				desired = int32Or(o.deployment.Spec.Replicas, 1)
			}
			parts = append(parts, fmt.Sprintf("%d of %d pods ready", ready, desired))
		}
		parts = append(parts, "endpoint "+endpoint)
		if lab.Spec.Storage != nil {
			parts = append(parts, "storage bound")
		}
		updates = append(updates, update{"Ready", "True", "LabReady", "the lab is ready: " + strings.Join(parts, ", ")})
	}
	var kinds []string
	if lab.Spec.Storage != nil {
		kinds = append(kinds, "PersistentVolumeClaim")
	}
	if lab.Spec.App != nil {
		kinds = append(kinds, "Deployment")
	}
	kinds = append(kinds, "Service")
	if lab.Spec.NetworkPolicy != nil {
		kinds = append(kinds, "NetworkPolicy")
	}
	verb := "match"
	if len(kinds) == 1 {
		verb = "matches"
	}
	updates = append(updates, update{"Reconciled", "True", "ChildrenApplied", fmt.Sprintf("%s %s generation %d of the spec", joinWords(kinds), verb, gen)})
	if lab.Spec.App != nil {
		d := o.deployment
		if d == nil {
			updates = append(updates,
				update{"Available", "False", "DeploymentNotFound", "the Deployment does not exist yet"},
				update{"Progressing", "Unknown", "DeploymentNotFound", "the Deployment does not exist yet"})
		} else {
			counts := fmt.Sprintf("%d of %d pods available", d.Status.AvailableReplicas, int32Or(d.Spec.Replicas, 1))
			var avail update
			var cond *appsv1.DeploymentCondition
			for i := range d.Status.Conditions {
				if d.Status.Conditions[i].Type == appsv1.DeploymentAvailable {
					cond = &d.Status.Conditions[i]
				}
			}
			switch {
			case cond != nil && cond.Status == corev1.ConditionTrue:
				avail = update{"Available", "True", "MinimumReplicasAvailable", "the Deployment has minimum availability: " + counts}
			case cond != nil && cond.Status == corev1.ConditionFalse:
				avail = update{"Available", "False", "MinimumReplicasUnavailable", "the Deployment does not have minimum availability: " + counts}
			default:
				avail = update{"Available", "Unknown", "AwaitingDeploymentStatus", "the Deployment controller has not reported availability yet: " + counts}
			}
			r := rolloutStateOf(d)
			prog := map[string]update{
				"progressing": {"Progressing", "True", "RolloutInProgress", r.message},
				"stalled":     {"Progressing", "False", "ProgressDeadlineExceeded", r.message},
				"complete":    {"Progressing", "False", "RolloutComplete", r.message},
			}[r.state]
			updates = append(updates, avail, prog)
		}
	}
	if lab.Spec.Storage != nil {
		name := ""
		if o.pvc != nil {
			name = o.pvc.Name
		}
		reason, msg := claimStateOf(o.pvc, name)
		status := "False"
		if reason == "ClaimBound" {
			status = "True"
		}
		updates = append(updates, update{"StorageBound", status, reason, msg})
	}

	var previous []metav1.Condition
	if lab.Status != nil {
		previous = lab.Status.Conditions
	}
	managed := map[string]bool{"Ready": true, "Reconciled": true, "Available": true, "Progressing": true, "StorageBound": true}
	stamp := metav1.NewTime(now.UTC().Truncate(time.Second))
	var conditions []metav1.Condition
	for _, u := range updates {
		c := metav1.Condition{Type: u.typ, Status: metav1.ConditionStatus(u.status), ObservedGeneration: gen, Reason: u.reason, Message: u.message, LastTransitionTime: stamp}
		for _, p := range previous {
			if p.Type == u.typ && string(p.Status) == u.status {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
		conditions = append(conditions, c)
	}
	for _, p := range previous {
		if !managed[p.Type] {
			conditions = append(conditions, p)
		}
	}
	st := &LabStatus{ObservedGeneration: gen, Phase: decided.phase, Endpoint: endpoint, Conditions: conditions}
	if lab.Spec.App != nil {
		var replicas, ready int32
		if o.deployment != nil {
			replicas, ready = o.deployment.Status.Replicas, o.deployment.Status.ReadyReplicas
		}
		st.Replicas, st.ReadyReplicas = &replicas, &ready
	}
	return st
}

func joinWords(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// --- reconciler -------------------------------------------------------------------------------

type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
}

func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	lab := &StudyLab{}
	if err := r.Get(ctx, req.NamespacedName, lab); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if lab.Spec.Paused || lab.Spec.App == nil {
		// Outside the bench's subset.
		return reconcile.Result{}, nil
	}
	var o observed
	if lab.Spec.Storage != nil {
		existing := &corev1.PersistentVolumeClaim{}
		live := existing
		if err := r.Get(ctx, req.NamespacedName, existing); err != nil {
			if !apierrors.IsNotFound(err) {
				return reconcile.Result{}, err
			}
			live = nil
		}
		pvc := &corev1.PersistentVolumeClaim{}
		// Hashed without the class copied from the live claim, as the TypeScript reconciler does (its
		// withIntentHash leaves `inherited` paths out); for the bench's labs, which name no class, that is
		// the claim as built from the spec alone.
		if err := r.apply(ctx, lab, buildClaim(lab, live), buildClaim(lab, nil), live, pvc); err != nil {
			return reconcile.Result{}, err
		}
		o.pvc = pvc
	}
	d := &appsv1.Deployment{}
	if err := r.applyChild(ctx, lab, buildDeployment(lab), &appsv1.Deployment{}, d); err != nil {
		return reconcile.Result{}, err
	}
	o.deployment = d
	s := &corev1.Service{}
	if err := r.applyChild(ctx, lab, buildService(lab), &corev1.Service{}, s); err != nil {
		return reconcile.Result{}, err
	}
	o.service = s
	if np := buildNetworkPolicy(lab); np != nil {
		if err := r.applyChild(ctx, lab, np, &networkingv1.NetworkPolicy{}, &networkingv1.NetworkPolicy{}); err != nil {
			return reconcile.Result{}, err
		}
	}

	status := computeStatus(lab, o, time.Now())
	if lab.Status != nil && equality.Semantic.DeepEqual(lab.Status, status) {
		return reconcile.Result{}, nil
	}
	statusMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return reconcile.Result{}, err
	}
	patch := &unstructured.Unstructured{Object: obj{
		"apiVersion": groupVersion.String(), "kind": "StudyLab",
		"metadata": obj{"name": lab.Name, "namespace": lab.Namespace},
		"status":   statusMap,
	}}
	err = r.Status().Patch(ctx, patch, client.Apply, client.FieldOwner(fieldManager), client.ForceOwnership)
	return reconcile.Result{}, client.IgnoreNotFound(err)
}

// applyChild reads the live child from the cache (for the Event only), then applies.
func (r *Reconciler) applyChild(ctx context.Context, lab *StudyLab, intent obj, live client.Object, out client.Object) error {
	key := types.NamespacedName{Namespace: lab.Namespace, Name: lab.Name}
	if err := r.Get(ctx, key, live); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		live = nil
	}
	return r.apply(ctx, lab, intent, intent, live, out)
}

// apply server-side applies the intent unconditionally (the controller-runtime way) and
// records the same Events as the TypeScript operator: Created when absent, Updated when
// the intent changed.
func (r *Reconciler) apply(ctx context.Context, lab *StudyLab, intent, basis obj, live client.Object, out client.Object) error {
	u := withIntentHash(intent, basis)
	if err := r.Patch(ctx, u, client.Apply, client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return err
	}
	kind := u.GetKind()
	switch {
	case isNil(live):
		r.Recorder.Eventf(lab, nil, corev1.EventTypeNormal, kind+"Created", "Create", "Created %s %s", kind, lab.Name)
	case live.GetAnnotations()[intentHashKey] != u.GetAnnotations()[intentHashKey]:
		r.Recorder.Eventf(lab, nil, corev1.EventTypeNormal, kind+"Updated", "Update", "Updated %s %s to the new spec", kind, lab.Name)
	}
	return nil
}

func isNil(o client.Object) bool {
	switch v := o.(type) {
	case nil:
		return true
	case *corev1.PersistentVolumeClaim:
		return v == nil
	}
	return false
}

func labOfClaim(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[managedByLabel] != managedByValue || l[instanceLabel] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[instanceLabel]}}}
}

func main() {
	var metricsAddr, probeAddr, namespace string
	var concurrency int
	var qps float64
	// --kubeconfig is controller-runtime's own flag (registered by pkg/client/config).
	flag.StringVar(&metricsAddr, "metrics-bind-address", "127.0.0.1:8080", "address of /metrics")
	flag.StringVar(&probeAddr, "health-probe-bind-address", "127.0.0.1:8081", "address of /healthz and /readyz")
	flag.StringVar(&namespace, "namespace", "", "only watch labs in this namespace")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", 4, "labs reconciled in parallel")
	// The TypeScript operator has no client-side rate limiter; neither has the peer by default.
	flag.Float64Var(&qps, "kube-api-qps", -1, "client-side rate limit; negative disables it")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseDevMode(false)))
	log := ctrl.Log.WithName("studylab-go")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "kubeconfig")
		os.Exit(1)
	}
	cfg.QPS = float32(qps)
	cfg.Burst = 1000

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	scheme.AddKnownTypes(groupVersion, &StudyLab{}, &StudyLabList{})
	metav1.AddToGroupVersion(scheme, groupVersion)

	// Cache only the children we label, like the TypeScript operator's CHILD_CACHE.
	managed := labels.SelectorFromSet(labels.Set{managedByLabel: managedByValue})
	// And without managedFields, as the TypeScript operator's informers drop them (the usual
	// controller-runtime memory saving, cache.TransformStripManagedFields).
	cacheOpts := cache.Options{DefaultTransform: cache.TransformStripManagedFields(), ByObject: map[client.Object]cache.ByObject{
		&appsv1.Deployment{}:            {Label: managed},
		&corev1.Service{}:               {Label: managed},
		&networkingv1.NetworkPolicy{}:   {Label: managed},
		&corev1.PersistentVolumeClaim{}: {Label: managed},
	}}
	if namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
	})
	if err != nil {
		log.Error(err, "manager")
		os.Exit(1)
	}
	_ = mgr.AddHealthzCheck("healthz", healthz.Ping)
	_ = mgr.AddReadyzCheck("readyz", healthz.Ping)

	clientset := kubernetes.NewForConfigOrDie(cfg)
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: clientset.EventsV1()})
	ctx := ctrl.SetupSignalHandler()
	broadcaster.StartRecordingToSink(ctx.Done())
	recorder := broadcaster.NewRecorder(scheme, "studylab.io/studylab-controller")

	err = ctrl.NewControllerManagedBy(mgr).
		Named(controllerNameStr).
		For(&StudyLab{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(labOfClaim)).
		// The priority queue is controller-runtime's default since v0.22; named here because the bench
		// compares it with ours: initial-list and resync keys low, edits ahead of them.
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency, UsePriorityQueue: ptr.To(true)}).
		Complete(&Reconciler{Client: mgr.GetClient(), Recorder: recorder})
	if err != nil {
		log.Error(err, "controller")
		os.Exit(1)
	}
	log.Info("starting", "namespace", namespace)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
